//! HTTPS and WSS next to plain HTTP: the same router on `[http] tls_listen`, with the configured
//! certificate, or a self-signed one generated on first run for trials (`tls_self_signed`).

use crate::config::TlsSettings;
use anyhow::Context;
use std::path::Path;

/// Make sure the certificate and key exist: generate a self-signed pair when allowed and
/// missing (names: localhost, 127.0.0.1 and `host`).
pub fn ensure_certificate(tls: &TlsSettings, host: &str) -> anyhow::Result<()> {
    if tls.cert.exists() && tls.key.exists() {
        return Ok(());
    }
    if !tls.self_signed {
        anyhow::bail!(
            "TLS certificate {} or key {} is missing (set tls_self_signed = true for a trial certificate)",
            tls.cert.display(),
            tls.key.display()
        );
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_string());
    }
    let cert = rcgen::generate_simple_self_signed(names.clone())
        .context("generating a self-signed certificate")?;
    write_private(&tls.cert, cert.cert.pem().as_bytes())?;
    write_private(&tls.key, cert.signing_key.serialize_pem().as_bytes())?;
    tracing::warn!(cert = %tls.cert.display(), ?names, "generated a self-signed certificate: browsers will warn until you install a real one");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Serve `app` over TLS until `handle` is told to shut down.
pub async fn serve(
    tls: &TlsSettings,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<
        axum::Router,
        std::net::SocketAddr,
    >,
    handle: axum_server::Handle<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .with_context(|| format!("loading {} / {}", tls.cert.display(), tls.key.display()))?;
    axum_server::bind_rustls(tls.listen, config)
        .handle(handle)
        .serve(app)
        .await
        .with_context(|| format!("HTTPS {}", tls.listen))
}
