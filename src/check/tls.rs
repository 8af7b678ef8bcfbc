//! Whether the edge still accepts TLS older than 1.2. rustls speaks neither
//! TLS 1.0 nor 1.1, so the probe writes a TLS 1.1 ClientHello by hand and
//! reads the first record that comes back: a ServerHello is acceptance, an
//! alert (or a closed connection) refusal.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::http::{Failure, Http};

/// ECDHE and RSA suites with CBC, which TLS 1.0/1.1 servers offer.
const SUITES: [u16; 8] = [0xc013, 0xc014, 0xc009, 0xc00a, 0x002f, 0x0035, 0x000a, 0x00ff];

/// The TLS 1.1 ClientHello for `host`.
pub fn client_hello(host: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name
    let name = host.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    push_ext(&mut ext, 0x0000, &sni);
    push_ext(&mut ext, 0x000a, &[0, 4, 0, 0x17, 0, 0x18]); // secp256r1, secp384r1
    push_ext(&mut ext, 0x000b, &[1, 0]); // uncompressed points
    let mut body = vec![0x03, 0x02]; // TLS 1.1
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    body.extend((0..32u32).map(|i| (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(37)));
    body.push(0); // no session id
    body.extend_from_slice(&((SUITES.len() * 2) as u16).to_be_bytes());
    for s in SUITES {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut handshake = vec![1];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// Whether the first bytes of the server's answer accept the old version:
/// a handshake record holding a ServerHello of TLS 1.0 or 1.1.
pub fn accepted(answer: &[u8]) -> bool {
    answer.len() >= 11 && answer[0] == 0x16 && answer[5] == 2 && answer[9] == 3 && answer[10] <= 2
}

/// Some(true) when `host` completes a TLS 1.1 hello.
pub async fn accepts_tls11(http: &Http, host: &str) -> Result<bool, Failure> {
    let mut tcp = http.tcp(host, 443).await?;
    let work = async {
        tcp.write_all(&client_hello(host)).await?;
        let mut buf = [0u8; 64];
        let mut read = 0;
        while read < 11 {
            let n = tcp.read(&mut buf[read..]).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        std::io::Result::Ok(accepted(&buf[..read]))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(15), work).await {
        Ok(Ok(accepted)) => Ok(accepted),
        Ok(Err(_)) => Ok(false), // reset: refused
        Err(_) => Err(Failure::Other("TLS 1.1 hello: no answer within 15 s".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hello_is_one_handshake_record() {
        let hello = client_hello("example.com");
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(u16::from_be_bytes([hello[3], hello[4]]) as usize, hello.len() - 5);
        assert_eq!(hello[5], 1);
        assert!(hello.windows(11).any(|w| w == b"example.com"));
        assert!(accepted(&[0x16, 3, 2, 0, 50, 2, 0, 0, 46, 3, 2]));
        assert!(!accepted(&[0x15, 3, 1, 0, 2, 2, 70]));
        assert!(!accepted(&[0x16, 3, 3, 0, 50, 2, 0, 0, 46, 3, 3]));
    }
}
