//! Byte streams to a remote: `unix:`, `tcp:` and `ssl:` (rustls).
//!
//! SSL follows Open vSwitch's model: both sides present certificates from
//! PEM files (`-p` private key, `-c` certificate, `-C` CA certificate), and
//! the peer is verified by its chain to the CA. As in OVS, the certificate is
//! not required to name the host (ovs-pki certificates do not): a valid
//! chain to the configured CA is the proof of identity. Everything else of
//! the check (signatures, validity dates, key usage) stays on.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::TlsConnector;

use crate::session::Remote;

/// A connected byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Failures to set up or open a transport.
#[derive(Debug, Error)]
pub enum TransportError {
    /// Connecting failed.
    #[error("{remote}: {source}")]
    Connect { remote: String, source: std::io::Error },
    /// An `ssl:` remote without key, certificate and CA certificate.
    #[error("{0}: ssl remotes need a private key, a certificate and a CA certificate")]
    NoTlsConfig(String),
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The TLS handshake failed.
    #[error("{remote}: tls handshake: {source}")]
    Handshake { remote: String, source: std::io::Error },
}

/// The three PEM files of an SSL client, as ovsdb tools take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub private_key: PathBuf,
    pub certificate: PathBuf,
    pub ca_cert: PathBuf,
}

/// Builds the rustls client configuration once; files are read now, so a
/// bad file is reported at start-up, not at the first `ssl:` connection.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&files.ca_cert)? {
        roots.add(cert).map_err(|e| pem_error(&files.ca_cert, format!("unusable CA certificate: {e}")))?;
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| pem_error(&files.ca_cert, e.to_string()))?;
    let chain = read_certs(&files.certificate)?;
    let key = read_key(&files.private_key)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CaVerifier { inner }))
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

fn pem_error(path: &Path, message: impl Into<String>) -> TransportError {
    TransportError::Pem { path: path.to_owned(), message: message.into() }
}

fn open(path: &Path) -> Result<BufReader<File>, TransportError> {
    File::open(path).map(BufReader::new).map_err(|e| pem_error(path, e.to_string()))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut open(path)?)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no certificate found"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TransportError> {
    rustls_pemfile::private_key(&mut open(path)?)
        .map_err(|e| pem_error(path, e.to_string()))?
        .ok_or_else(|| pem_error(path, "no private key found"))
}

/// Verifies the server's chain to the CA and accepts any host name in it.
struct CaVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl fmt::Debug for CaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaVerifier")
    }
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // rustls checks the chain first and the name last, so a name error
        // means the chain is good.
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Opens a stream to `remote`.
pub async fn connect(remote: Remote, tls: Option<Arc<ClientConfig>>) -> Result<Box<dyn Stream>, TransportError> {
    let name = remote.to_string();
    let io_err = |source| TransportError::Connect { remote: name.clone(), source };
    match &remote {
        Remote::Unix(path) => Ok(Box::new(UnixStream::connect(path).await.map_err(io_err)?)),
        Remote::Tcp { host, port } => {
            let s = TcpStream::connect((host.as_str(), *port)).await.map_err(io_err)?;
            s.set_nodelay(true).map_err(io_err)?;
            Ok(Box::new(s))
        }
        Remote::Ssl { host, port } => {
            let config = tls.ok_or_else(|| TransportError::NoTlsConfig(name.clone()))?;
            let server_name = ServerName::try_from(host.clone())
                .map_err(|e| io_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())))?;
            let s = TcpStream::connect((host.as_str(), *port)).await.map_err(io_err)?;
            s.set_nodelay(true).map_err(io_err)?;
            let tls = TlsConnector::from(config)
                .connect(server_name, s)
                .await
                .map_err(|source| TransportError::Handshake { remote: name.clone(), source })?;
            Ok(Box::new(tls))
        }
    }
}
