from django.urls import path

from hosts.web import (
    audit,
    buildhosts,
    builds,
    certificates,
    endpoints,
    home,
    images,
    ops,
    registries,
    volumes,
)

urlpatterns = [
    path("", home.home, name="home"),
    path("build-hosts/", buildhosts.build_hosts, name="build_hosts"),
    path("build-hosts/<uuid:build_host_id>/", buildhosts.build_host, name="build_host"),
    path(
        "build-hosts/<uuid:build_host_id>/extend",
        buildhosts.build_host_extend,
        name="build_host_extend",
    ),
    path(
        "build-hosts/<uuid:build_host_id>/remove",
        buildhosts.build_host_remove,
        name="build_host_remove",
    ),
    path(
        "build-hosts/<uuid:build_host_id>/tls-bundle",
        buildhosts.build_host_tls_bundle,
        name="build_host_tls_bundle",
    ),
    path("endpoints/", endpoints.endpoints, name="endpoints"),
    path(
        "endpoints/<int:endpoint_id>/<slug:action>/",
        endpoints.endpoint_action,
        name="endpoint_action",
    ),
    path("registries/", registries.registries, name="registries"),
    path(
        "registries/<int:registry_id>/check",
        registries.registry_check,
        name="registry_check",
    ),
    path("registries/trust/", registries.registry_trust, name="registry_trust"),
    path("certificates/", certificates.certificates, name="certificates"),
    path(
        "certificates/ca/rotate/",
        certificates.certificate_authority_rotate,
        name="certificate_authority_rotate",
    ),
    path("audit/", audit.audit, name="audit"),
    path("builds/", builds.build_list, name="builds"),
    path("builds/new/", builds.build_new, name="build_new"),
    path("builds/<uuid:build_id>/", builds.build_detail, name="build"),
    path("builds/<uuid:build_id>/log", builds.build_log, name="build_log"),
    path(
        "builds/<uuid:build_id>/log/download",
        builds.build_log_download,
        name="build_log_download",
    ),
    path("builds/<uuid:build_id>/cancel", builds.build_cancel, name="build_cancel"),
    path("builds/<uuid:build_id>/deploy", builds.build_deploy, name="build_deploy"),
    path(
        "builds/<uuid:build_id>/deployments/<uuid:deployment_id>/",
        builds.build_deployment,
        name="build_deployment",
    ),
    path(
        "builds/<uuid:build_id>/deployments/<uuid:deployment_id>/remove",
        builds.build_deployment_remove,
        name="build_deployment_remove",
    ),
    path("build-host-images/", images.build_host_images, name="build_host_images"),
    path(
        "build-host-images/<int:image_id>/default/",
        images.make_default,
        name="build_host_image_default",
    ),
    path("volumes/", volumes.volume_list, name="volumes"),
    path("volumes/refresh/", volumes.volume_refresh, name="volume_refresh"),
    path("volumes/plans/", volumes.cleanup_plan_create, name="cleanup_plan_create"),
    path("volumes/plans/<int:plan_id>/", volumes.cleanup_plan, name="cleanup_plan"),
    path(
        "volumes/plans/<int:plan_id>/execute/",
        volumes.cleanup_plan_execute,
        name="cleanup_plan_execute",
    ),
    path("healthz", ops.healthz, name="healthz"),
    path("metrics", ops.metrics, name="metrics"),
]
