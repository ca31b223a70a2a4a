"""The password hasher the tests use: Django's own PBKDF2-SHA256, at fewer rounds."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FewRoundsPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's algorithm and format (`pbkdf2_sha256$<rounds>$salt$hash`),
    so a worker or server the tests start, on the project's own settings,
    verifies what the tests stored. A million rounds made each of the cast's
    users, and each sign-in, cost a quarter of a second or more here.
    """

    iterations = 1_000

    def must_update(self, encoded):
        # A stored hash with more rounds (made outside the tests, such as the
        # upgrade fixture's) is verified as it is and never weakened.
        stronger = self.decode(encoded)["iterations"] > self.iterations
        return super().must_update(encoded) and not stronger
