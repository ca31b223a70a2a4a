from django.urls import path

from hosts.web import builds as build_views
from hosts.web import images as image_views
from hosts.web import views
from hosts.web import volumes as volume_views

urlpatterns = [
    path("", views.home, name="home"),
    path("build-hosts/", views.build_hosts, name="build_hosts"),
    path("build-hosts/<uuid:build_host_id>/", views.build_host, name="build_host"),
    path(
        "build-hosts/<uuid:build_host_id>/extend",
        views.build_host_extend,
        name="build_host_extend",
    ),
    path(
        "build-hosts/<uuid:build_host_id>/remove",
        views.build_host_remove,
        name="build_host_remove",
    ),
    path(
        "build-hosts/<uuid:build_host_id>/tls-bundle",
        views.build_host_tls_bundle,
        name="build_host_tls_bundle",
    ),
    path("endpoints/", views.endpoints, name="endpoints"),
    path(
        "endpoints/<int:endpoint_id>/<slug:action>/",
        views.endpoint_action,
        name="endpoint_action",
    ),
    path("registries/", views.registries, name="registries"),
    path(
        "registries/<int:registry_id>/check",
        views.registry_check,
        name="registry_check",
    ),
    path("registries/trust/", views.registry_trust, name="registry_trust"),
    path("certificates/", views.certificates, name="certificates"),
    path(
        "certificates/ca/rotate/",
        views.certificate_authority_rotate,
        name="certificate_authority_rotate",
    ),
    path("audit/", views.audit, name="audit"),
    path("builds/", build_views.build_list, name="builds"),
    path("builds/new/", build_views.build_new, name="build_new"),
    path("builds/<uuid:build_id>/", build_views.build_detail, name="build"),
    path("builds/<uuid:build_id>/log", build_views.build_log, name="build_log"),
    path(
        "builds/<uuid:build_id>/log/download",
        build_views.build_log_download,
        name="build_log_download",
    ),
    path(
        "builds/<uuid:build_id>/cancel", build_views.build_cancel, name="build_cancel"
    ),
    path(
        "builds/<uuid:build_id>/deploy", build_views.build_deploy, name="build_deploy"
    ),
    path(
        "builds/<uuid:build_id>/deployments/<uuid:deployment_id>/",
        build_views.build_deployment,
        name="build_deployment",
    ),
    path(
        "builds/<uuid:build_id>/deployments/<uuid:deployment_id>/remove",
        build_views.build_deployment_remove,
        name="build_deployment_remove",
    ),
    path(
        "build-host-images/",
        image_views.build_host_images,
        name="build_host_images",
    ),
    path(
        "build-host-images/<int:image_id>/default/",
        image_views.make_default,
        name="build_host_image_default",
    ),
    path("volumes/", volume_views.volume_list, name="volumes"),
    path("volumes/refresh/", volume_views.volume_refresh, name="volume_refresh"),
    path(
        "volumes/plans/",
        volume_views.cleanup_plan_create,
        name="cleanup_plan_create",
    ),
    path(
        "volumes/plans/<int:plan_id>/",
        volume_views.cleanup_plan,
        name="cleanup_plan",
    ),
    path(
        "volumes/plans/<int:plan_id>/execute/",
        volume_views.cleanup_plan_execute,
        name="cleanup_plan_execute",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
