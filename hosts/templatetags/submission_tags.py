"""`{% submission_field %}`: the hidden one-time submission key a create
form carries, so that sending it twice makes one object
(hosts/web/submissions.py). A new key each time the form is rendered."""

from django import template
from django.utils.html import format_html

from hosts.web.submissions import SUBMISSION_FIELD, new_submission_key

register = template.Library()


@register.simple_tag
def submission_field():
    return format_html(
        '<input type="hidden" name="{}" value="{}">',
        SUBMISSION_FIELD,
        new_submission_key(),
    )
