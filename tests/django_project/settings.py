"""A real Django project's settings for taskbasket's Django tests.

``TB_DJANGO_DB`` picks the database engine (sqlite, postgres, mysql) and
``TB_DJANGO_NAME`` its database (a file for SQLite); ``TB_DJANGO_TEST_NAME`` names the
test runner's database. taskbasket stores its tasks in that same database: there is no
``TASKBASKET["URL"]``.
"""

import os

ENGINE = os.environ.get("TB_DJANGO_DB", "sqlite")
NAME = os.environ.get("TB_DJANGO_NAME", "/tmp/taskbasket-django.sqlite3")
TEST_NAME = os.environ.get("TB_DJANGO_TEST_NAME") or None

if ENGINE == "mysql":  # Django's MySQL backend on PyMySQL, which the MySQL store joins
    from taskbasket.contrib.django import use_pymysql

    use_pymysql()

DATABASES = {
    "default": {
        "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": NAME},
        "postgres": {"ENGINE": "django.db.backends.postgresql", "NAME": NAME,
                     "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"},
        "mysql": {"ENGINE": "django.db.backends.mysql", "NAME": NAME, "USER": "root",
                  "HOST": "127.0.0.1", "PORT": "3306"},
    }[ENGINE]
}
DATABASES["default"]["TEST"] = {"NAME": TEST_NAME}

TASKBASKET = {"DASHBOARD": {"refresh_seconds": 2.0}}

TEST_RUNNER = "taskbasket.contrib.django.testing.TestRunner"
SECRET_KEY = "taskbasket-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "tests.django_project.urls"
LOGIN_URL = "/login/"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "taskbasket.contrib.django",
    "tests.django_project.shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES: list[dict[str, object]] = []
