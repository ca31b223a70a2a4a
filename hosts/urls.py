from django.urls import path

from hosts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("endpoints/", views.endpoints, name="endpoints"),
    path("registries/", views.registries, name="registries"),
    path("certificates/", views.certificates, name="certificates"),
    path("audit/", views.audit, name="audit"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
