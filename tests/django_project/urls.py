from django.urls import include, path

from tests.django_project.shop import views

urlpatterns = [
    path("orders/", views.place_order),
    path("tasks/", include("taskbasket.contrib.django.urls")),
]
