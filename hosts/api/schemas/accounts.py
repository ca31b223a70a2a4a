from ninja import Schema


class MeOut(Schema):
    username: str
    is_admin: bool
    groups: list[str]
