"""How dchweb reaches an endpoint's engine: the engine adapter's plain view of
an endpoint's connection settings (URL, TLS mode and material)."""

from hosts import engine


def connection_for(endpoint):
    """The engine adapter's plain view of an endpoint's connection settings."""
    client = endpoint.client_certificate
    return engine.Connection(
        docker_url=endpoint.docker_url,
        tls_mode=endpoint.tls_mode,
        ca_pem=endpoint.ca_certificate.pem if endpoint.ca_certificate else "",
        client_cert_pem=client.pem if client else "",
        client_key_pem=(client.get_private_key() or "") if client else "",
    )
