//! A small HTTP/1.1 client for probing the CDN as a browser would: hyper and
//! rustls (the stack the SDK already builds), one connection per request, the
//! address chosen by `--connect-to` while the name and SNI stay the site's.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(15);
/// What every probe sends as its User-Agent (a web ACL may block it).
pub const USER_AGENT: &str = concat!("cdnctl-check/", env!("CARGO_PKG_VERSION"));

/// curl's `--connect-to HOST1:PORT1:HOST2:PORT2`: requests for HOST1:PORT1
/// go to HOST2:PORT2 (an empty HOST1 or PORT1 matches any; an empty HOST2 or
/// PORT2 keeps the original).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    host: Option<String>,
    port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

impl FromStr for ConnectTo {
    type Err = String;

    fn from_str(s: &str) -> Result<ConnectTo, String> {
        let bad = || format!("{s:?}: expected HOST1:PORT1:HOST2:PORT2, e.g. example.com:443:127.0.0.1:8443");
        let parts: Vec<&str> = split_hosts(s);
        if parts.len() != 4 {
            return Err(bad());
        }
        let host = |h: &str| (!h.is_empty()).then(|| h.trim_matches(['[', ']']).to_ascii_lowercase());
        let port = |p: &str| -> Result<Option<u16>, String> {
            if p.is_empty() {
                Ok(None)
            } else {
                p.parse().map(Some).map_err(|_| bad())
            }
        };
        Ok(ConnectTo {
            host: host(parts[0]),
            port: port(parts[1])?,
            to_host: host(parts[2]),
            to_port: port(parts[3])?,
        })
    }
}

/// Split on ':' outside brackets, so IPv6 addresses can be given as [::1].
fn split_hosts(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// What went wrong before an HTTP answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No TCP connection (refused, unreachable, no address).
    Connect(String),
    /// The certificate is not valid for the name.
    NotForName,
    /// The certificate has expired (or is not yet valid).
    Expired,
    /// The certificate is not signed by a trusted CA.
    Untrusted,
    /// Any other TLS or HTTP failure.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::NotForName => write!(f, "the certificate is not valid for this name"),
            Failure::Expired => write!(f, "the certificate has expired"),
            Failure::Untrusted => write!(f, "the certificate is not signed by a trusted authority"),
            Failure::Other(e) => write!(f, "{e}"),
        }
    }
}

/// One HTTP answer, the body read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// S3's error code in an XML error body (`AccessDenied`, `NoSuchKey`).
    pub fn s3_code(&self) -> Option<String> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let start = text.find("<Code>")? + 6;
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_string())
    }

    /// CloudFront's own error page ("The request could not be satisfied").
    pub fn is_cloudfront_page(&self) -> bool {
        std::str::from_utf8(&self.body).is_ok_and(|t| t.contains("The request could not be satisfied"))
    }
}

pub struct Http {
    tls: Arc<rustls::ClientConfig>,
    /// The same trust, offering h2 before http/1.1 (the ALPN probe only).
    alpn: Arc<rustls::ClientConfig>,
    connect_to: Vec<ConnectTo>,
}

impl Http {
    /// Trusts the system's CAs, and the PEM certificates of `ca_bundle`.
    pub fn new(ca_bundle: Option<&Path>, connect_to: Vec<ConnectTo>) -> anyhow::Result<Http> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = ca_bundle {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect::<Result<_, _>>())
                .map_err(|e| anyhow!("--ca-bundle: cannot read PEM certificates from {}: {e}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--ca-bundle: {} holds no PEM certificate", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .with_context(|| format!("--ca-bundle: a certificate in {} is not usable", path.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS: no protocol version")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut alpn = config.clone();
        alpn.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Http {
            tls: Arc::new(config),
            alpn: Arc::new(alpn),
            connect_to,
        })
    }

    pub fn redirected(&self) -> bool {
        !self.connect_to.is_empty()
    }

    /// Where a connection to host:port really goes.
    fn address(&self, host: &str, port: u16) -> (String, u16) {
        let host_lc = host.to_ascii_lowercase();
        for c in &self.connect_to {
            if c.host.as_ref().is_none_or(|h| *h == host_lc) && c.port.is_none_or(|p| p == port) {
                return (
                    c.to_host.clone().unwrap_or_else(|| host.to_string()),
                    c.to_port.unwrap_or(port),
                );
            }
        }
        (host.to_string(), port)
    }

    pub(super) async fn tcp(&self, host: &str, port: u16) -> Result<TcpStream, Failure> {
        let (to_host, to_port) = self.address(host, port);
        match tokio::time::timeout(TIMEOUT, TcpStream::connect((to_host.as_str(), to_port))).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(Failure::Connect(format!("{to_host}:{to_port}: {e}"))),
            Err(_) => Err(Failure::Connect(format!("{to_host}:{to_port}: timed out"))),
        }
    }

    async fn tls_stream(&self, host: &str) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
        self.handshake(host, self.tls.clone()).await
    }

    async fn handshake(
        &self,
        host: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
        let tcp = self.tcp(host, 443).await?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| Failure::Other(format!("{host}: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        match tokio::time::timeout(TIMEOUT, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(tls_failure(&e)),
            Err(_) => Err(Failure::Other("TLS handshake timed out".into())),
        }
    }

    /// The handshake alone: the served certificate's expiry (seconds since the epoch).
    pub async fn certificate_expiry(&self, host: &str) -> Result<Option<i64>, Failure> {
        let tls = self.tls_stream(host).await?;
        let (_, conn) = tls.get_ref();
        Ok(conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| not_after(c.as_ref())))
    }

    /// The handshake alone, offering h2 and http/1.1: the protocol the
    /// server picked (None: it picked none) and the TLS version.
    pub async fn alpn(&self, host: &str) -> Result<(Option<String>, String), Failure> {
        let tls = self.handshake(host, self.alpn.clone()).await?;
        let (_, conn) = tls.get_ref();
        let protocol = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace("TLSv1_", "TLS 1."))
            .unwrap_or_default();
        Ok((protocol, version))
    }

    /// One request; `https` picks port 443 (with TLS) or 80.
    pub async fn request(
        &self,
        https: bool,
        host: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, Failure> {
        let answer = if https {
            exchange(self.tls_stream(host).await?, host, method, path, headers).await
        } else {
            exchange(self.tcp(host, 80).await?, host, method, path, headers).await
        };
        answer.map_err(Failure::Other)
    }
}

fn tls_failure(e: &std::io::Error) -> Failure {
    use rustls::CertificateError as C;
    match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::NotValidForName | C::NotValidForNameContext { .. } => Failure::NotForName,
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => Failure::Expired,
            C::UnknownIssuer => Failure::Untrusted,
            other => Failure::Other(format!("TLS: {other:?}")),
        },
        Some(other) => Failure::Other(format!("TLS: {other}")),
        None => Failure::Other(format!("TLS: {e}")),
    }
}

async fn exchange<S>(io: S, host: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let work = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let driver = tokio::spawn(conn);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("user-agent", USER_AGENT);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Empty::<Bytes>::new()).map_err(|e| format!("HTTP: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if method == "HEAD" {
            Bytes::new()
        } else {
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("HTTP body: {e}"))?
                .to_bytes()
        };
        driver.abort();
        Ok(Answer { status, headers, body })
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err("no answer within 15 s".into()))
}

// --------------------------------------------------------------------------
// The certificate's notAfter, from its DER (no X.509 crate needed for one field)
// --------------------------------------------------------------------------

/// One DER element at the start of `der`: (tag, content, rest).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Certificate → tbsCertificate → validity → notAfter, as seconds since the epoch.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = element(der)?;
    let (_, mut tbs, _) = element(cert)?;
    if tbs.first() == Some(&0xa0) {
        tbs = element(tbs)?.2; // [0] version
    }
    let rest = element(tbs)?.2; // serialNumber
    let rest = element(rest)?.2; // signature
    let rest = element(rest)?.2; // issuer
    let (_, validity, _) = element(rest)?;
    let after = element(validity)?.2;
    let (tag, time, _) = element(after)?;
    let text = std::str::from_utf8(time).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(0..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(0..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r).and_then(|s| s.parse::<i64>().ok());
    let (month, day, hour, minute, second) = (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
    Some(days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_reads_like_curl() {
        let c: ConnectTo = "example.com:443:127.0.0.1:8443".parse().unwrap();
        let config = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        );
        let http = Http {
            alpn: config.clone(),
            tls: Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            ),
            connect_to: vec![c, "::[::1]:".parse().unwrap()],
        };
        assert_eq!(http.address("Example.com", 443), ("127.0.0.1".into(), 8443));
        assert_eq!(http.address("example.com", 80), ("::1".into(), 80));
        assert_eq!(http.address("other.org", 443), ("::1".into(), 443));
        assert!("example.com:443:127.0.0.1".parse::<ConnectTo>().is_err());
        assert!("example.com:x:127.0.0.1:1".parse::<ConnectTo>().is_err());
    }

    #[test]
    fn dates_count_from_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }
}
