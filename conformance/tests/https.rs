//! https targets: the reference server behind a local TLS terminator with a
//! self-signed certificate. With --insecure a slice of the suite passes;
//! without it the preflight stops with exit 2 and names --insecure.

use std::sync::Arc;

use clap::Parser;
use ds_conformance::cli::{exit_code, Cli};
use ds_conformance::client::Target;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Accept TLS on 127.0.0.1:0 and pipe each connection to `plain`.
async fn tls_terminator(plain: std::net::SocketAddr) -> std::net::SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    // The test's TLS listener uses ring; the harness's client keeps its own
    // (aws-lc-rs) provider.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.der().to_vec())], key)
        .expect("TLS config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(plain).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    addr
}

#[test]
fn https_target_with_insecure_passes_and_without_it_is_a_setup_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(ds_conformance::embedded::start("memory"))
        .expect("embedded server");
    let plain: std::net::SocketAddr = server
        .stream_root()
        .trim_start_matches("http://")
        .trim_end_matches("/v1/stream")
        .parse()
        .unwrap();
    let tls = rt.block_on(tls_terminator(plain));
    let root = format!("https://{tls}/v1/stream");

    // Untrusted certificate: the preflight names the flag.
    let target = Target::with_tls(&root, false).unwrap();
    let err = rt
        .block_on(ds_conformance::preflight::run(&target, "pf", None, false))
        .unwrap_err();
    assert!(err.contains("--insecure"), "{err}");
    let args = ["ds-conformance", "--target", &root, "create::basic"];
    assert_eq!(exit_code(Cli::parse_from(args)), 2);

    let args = [
        "ds-conformance",
        "--target",
        &root,
        "--insecure",
        "--long-poll-timeout-ms",
        "1000",
        "create::basic",
        "read::basic",
        "sse::format",
    ];
    assert_eq!(exit_code(Cli::parse_from(args)), 0);
    rt.block_on(server.stop());
}
