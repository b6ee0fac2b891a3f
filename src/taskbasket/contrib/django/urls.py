"""``path("tasks/", include("taskbasket.contrib.django.urls"))``: the dashboard, for staff."""

from __future__ import annotations

from django.urls import re_path

from taskbasket.contrib.django.views import dashboard

app_name = "taskbasket"
urlpatterns = [re_path(r"^(?P<path>.*)$", dashboard, name="dashboard")]
