//! Webhook signatures (§6.5, §7.1, §12.10): the target's JWK Set and the
//! check of a `Webhook-Signature: t=…,kid=…,ed25519=…` header against it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use crate::case::Failure;
use crate::fail;

/// The Ed25519 keys of a JWK Set, by kid.
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    pub keys: Vec<(String, VerifyingKey)>,
}

impl Jwks {
    /// Parse a JWK Set, failing on `SUB-JWKS-KEY-FIELDS` for a malformed
    /// key and `SUB-JWKS-KID` for a duplicate kid.
    pub fn parse(doc: &Value) -> Result<Jwks, Failure> {
        let Some(keys) = doc["keys"].as_array() else {
            fail!("SUB-JWKS-SERVED", "the JWK Set has no keys array: {doc}");
        };
        let mut out = Jwks::default();
        for k in keys {
            let field = |n: &str| k[n].as_str().unwrap_or("");
            let kid = field("kid");
            if field("kty") != "OKP" || field("crv") != "Ed25519" || kid.is_empty() {
                fail!(
                    "SUB-JWKS-KEY-FIELDS",
                    "key is not an Ed25519 OKP key with a kid: {k}"
                );
            }
            if k.get("d").is_some() {
                fail!(
                    "SUB-JWKS-KEY-FIELDS",
                    "the JWK Set publishes a private key (d): {kid}"
                );
            }
            if field("use") != "sig" || field("alg") != "EdDSA" {
                fail!(
                    "SUB-JWKS-KEY-FIELDS",
                    "key {kid} lacks use=sig / alg=EdDSA: {k}"
                );
            }
            let x = URL_SAFE_NO_PAD.decode(field("x")).ok();
            let Some(key) = x
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            else {
                fail!(
                    "SUB-JWKS-KEY-FIELDS",
                    "key {kid}: x is not a base64url Ed25519 public key: {k}"
                );
            };
            if out.keys.iter().any(|(id, _)| id == kid) {
                fail!("SUB-JWKS-KID", "kid {kid} names two keys in the JWK Set");
            }
            out.keys.push((kid.to_string(), key));
        }
        if out.keys.is_empty() {
            fail!("SUB-JWKS-SERVED", "the JWK Set is empty");
        }
        Ok(out)
    }

    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, v)| v)
    }

    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|(k, _)| k.clone()).collect()
    }
}

/// The parts of a `Webhook-Signature` header.
#[derive(Clone, Debug)]
pub struct SigHeader {
    pub t: i64,
    pub kid: String,
    pub sig: Vec<u8>,
}

pub fn parse_header(h: &str) -> Result<SigHeader, String> {
    let (mut t, mut kid, mut sig) = (None, None, None);
    for part in h.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| format!("parameter {part:?} is not k=v"))?;
        match k {
            "t" => {
                t = Some(
                    v.parse::<i64>()
                        .map_err(|_| format!("t={v} is not decimal"))?,
                )
            }
            "kid" => kid = Some(v.to_string()),
            "ed25519" => {
                if v.ends_with('=') {
                    return Err("the signature is padded (must be unpadded base64url)".into());
                }
                sig = Some(
                    URL_SAFE_NO_PAD
                        .decode(v)
                        .map_err(|e| format!("ed25519= is not base64url: {e}"))?,
                )
            }
            _ => {}
        }
    }
    Ok(SigHeader {
        t: t.ok_or("no t= parameter")?,
        kid: kid.ok_or("no kid= parameter")?,
        sig: sig.ok_or("no ed25519= parameter")?,
    })
}

/// Verify `header` over `<t>.<raw>` with the key its kid names; failures
/// name SUB-WEBHOOK-SIGNATURE.
pub fn verify(jwks: &Jwks, header: Option<&str>, raw: &[u8]) -> Result<SigHeader, Failure> {
    let Some(h) = header else {
        fail!(
            "SUB-WEBHOOK-SIGNATURE",
            "the delivery has no Webhook-Signature header"
        );
    };
    let parsed = match parse_header(h) {
        Ok(p) => p,
        Err(e) => fail!("SUB-WEBHOOK-SIGNATURE", "Webhook-Signature {h:?}: {e}"),
    };
    let Some(key) = jwks.get(&parsed.kid) else {
        fail!(
            "SUB-WEBHOOK-SIGNATURE",
            "Webhook-Signature kid {} is not in the JWK Set (kids: {:?})",
            parsed.kid,
            jwks.kids()
        );
    };
    let Ok(bytes) = <[u8; 64]>::try_from(parsed.sig.as_slice()) else {
        fail!(
            "SUB-WEBHOOK-SIGNATURE",
            "the signature is {} bytes, not 64",
            parsed.sig.len()
        );
    };
    let mut msg = format!("{}.", parsed.t).into_bytes();
    msg.extend_from_slice(raw);
    if key
        .verify_strict(&msg, &Signature::from_bytes(&bytes))
        .is_err()
    {
        fail!(
            "SUB-WEBHOOK-SIGNATURE",
            "Webhook-Signature does not verify over `<t>.<raw body>` with key {} ({} body bytes)",
            parsed.kid,
            raw.len()
        );
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn setup() -> (SigningKey, Jwks) {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let doc = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "kid": "k1", "use": "sig", "alg": "EdDSA",
            "x": URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes())
        }]});
        (sk, Jwks::parse(&doc).unwrap())
    }

    #[test]
    fn good_signature_verifies_and_tampering_fails() {
        let (sk, jwks) = setup();
        let body = br#"{"a":1}"#;
        let sig = sk.sign(&[b"1700000000.".as_slice(), body].concat());
        let h = format!(
            "t=1700000000,kid=k1,ed25519={}",
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        );
        assert!(verify(&jwks, Some(&h), body).is_ok());
        assert!(verify(&jwks, Some(&h), br#"{"a":2}"#).is_err());
        let other_t = h.replace("1700000000", "1700000001");
        assert!(verify(&jwks, Some(&other_t), body).is_err());
        assert!(verify(&jwks, Some(&h.replace("kid=k1", "kid=k2")), body).is_err());
        assert!(verify(&jwks, None, body).is_err());
    }

    #[test]
    fn private_and_duplicate_keys_are_refused() {
        let (sk, _) = setup();
        let x = URL_SAFE_NO_PAD.encode(sk.verifying_key().as_bytes());
        let key = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "use": "sig", "alg": "EdDSA", "x": x});
        let dup = serde_json::json!({"keys": [key.clone(), key.clone()]});
        assert_eq!(
            Jwks::parse(&dup).unwrap_err().requirement.as_deref(),
            Some("SUB-JWKS-KID")
        );
        let mut private = key.clone();
        private["d"] = serde_json::json!("secret");
        let doc = serde_json::json!({ "keys": [private] });
        assert_eq!(
            Jwks::parse(&doc).unwrap_err().requirement.as_deref(),
            Some("SUB-JWKS-KEY-FIELDS")
        );
    }
}
