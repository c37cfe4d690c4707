//! §6.5, §7.1, §12.9: the server's Ed25519 webhook signing key, its JWK Set
//! (`kid` = `ds_` + the RFC 7638 JWK thumbprint), `Webhook-Signature`
//! headers, and the signed callback / claim tokens.
//!
//! Tokens are `base64url(claims JSON) "." base64url(Ed25519 signature)`,
//! the signature taken over `ds-token.` + the encoded claims (a webhook
//! signature covers `<digits>.<body>`, so the two can never be confused).
//! They carry the subscription id and incarnation, the generation and the
//! wake id, so the server can check them without storing them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const TOKEN_DOMAIN: &[u8] = b"ds-token.";

/// The signing key and what is derived from it.
pub struct Keys {
    key: SigningKey,
    kid: String,
    x: String,
}

/// What a callback or claim token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subscription id.
    pub sub: String,
    /// The subscription's incarnation (a re-created id gets a new one).
    pub inc: String,
    /// Generation the token was issued for.
    pub gen: u64,
    /// Wake the token was issued for.
    pub wake: String,
    /// `callback` (webhook) or `claim` (pull-wake).
    pub kind: String,
}

impl Keys {
    pub fn from_seed(seed: [u8; 32]) -> Keys {
        let key = SigningKey::from_bytes(&seed);
        let x = B64.encode(key.verifying_key().as_bytes());
        // RFC 7638: the required members in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = format!("ds_{}", B64.encode(Sha256::digest(canonical.as_bytes())));
        Keys { key, kid, x }
    }

    pub fn random_seed() -> [u8; 32] {
        rand::random()
    }

    pub fn seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK Set served at `{stream-root}/__ds/jwks.json` (§6.5).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": self.kid,
                "use": "sig",
                "alg": "EdDSA",
                "x": self.x,
            }]
        })
    }

    /// `Webhook-Signature: t=<ts>,kid=<kid>,ed25519=<sig>` over
    /// `<ts>.<body>` (§7.1).
    pub fn signature_header(&self, unix_seconds: u64, body: &[u8]) -> String {
        let mut msg = unix_seconds.to_string().into_bytes();
        msg.push(b'.');
        msg.extend_from_slice(body);
        let sig = self.key.sign(&msg);
        format!(
            "t={unix_seconds},kid={},ed25519={}",
            self.kid,
            B64.encode(sig.to_bytes())
        )
    }

    pub fn mint(&self, claims: &Claims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let sig = self.key.sign(&[TOKEN_DOMAIN, payload.as_bytes()].concat());
        format!("{payload}.{}", B64.encode(sig.to_bytes()))
    }

    /// The claims of a token this key signed; `None` for anything else.
    pub fn check(&self, token: &str) -> Option<Claims> {
        let (payload, sig) = token.split_once('.')?;
        let sig: [u8; 64] = B64.decode(sig).ok()?.try_into().ok()?;
        self.key
            .verifying_key()
            .verify(
                &[TOKEN_DOMAIN, payload.as_bytes()].concat(),
                &Signature::from_bytes(&sig),
            )
            .ok()?;
        serde_json::from_slice(&B64.decode(payload).ok()?).ok()
    }
}

/// Verifies a `Webhook-Signature` header against a JWK Set, as a receiver
/// would (§12.10): the key is selected by `kid`. Used by tests.
pub fn verify_with_jwks(jwks: &serde_json::Value, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut kid = None;
    let mut sig = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("kid", v)) => kid = Some(v),
            Some(("ed25519", v)) => sig = Some(v),
            _ => return false,
        }
    }
    let (Some(t), Some(kid), Some(sig)) = (t, kid, sig) else {
        return false;
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(key) = jwks["keys"].as_array().and_then(|keys| {
        keys.iter()
            .find(|k| k["kid"] == kid && k["kty"] == "OKP" && k["crv"] == "Ed25519")
    }) else {
        return false;
    };
    let Some(x) = key["x"].as_str().and_then(|x| B64.decode(x).ok()) else {
        return false;
    };
    let Ok(x): Result<[u8; 32], _> = x.try_into() else {
        return false;
    };
    let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&x) else {
        return false;
    };
    let Some(sig) = B64
        .decode(sig)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
    else {
        return false;
    };
    let msg = [t.as_bytes(), b".", body].concat();
    vk.verify(&msg, &Signature::from_bytes(&sig)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "s".into(),
            inc: "i".into(),
            gen: 3,
            wake: "w_1".into(),
            kind: "claim".into(),
        }
    }

    #[test]
    fn kid_is_stable_and_derived_from_the_key() {
        let seed = [7u8; 32];
        assert_eq!(Keys::from_seed(seed).kid(), Keys::from_seed(seed).kid());
        assert_ne!(Keys::from_seed(seed).kid(), Keys::from_seed([8; 32]).kid());
        assert!(Keys::from_seed(seed).kid().starts_with("ds_"));
    }

    #[test]
    fn rfc8037_test_vector_thumbprint() {
        // RFC 8037 A.1/A.3: this private key's JWK thumbprint.
        let seed: [u8; 32] = B64
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap()
            .try_into()
            .unwrap();
        let k = Keys::from_seed(seed);
        assert_eq!(k.x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(k.kid, "ds_kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn signatures_verify_against_the_jwks_and_fail_when_tampered() {
        let k = Keys::from_seed([1; 32]);
        let h = k.signature_header(1_700_000_000, b"{\"a\":1}");
        assert!(verify_with_jwks(&k.jwks(), &h, b"{\"a\":1}"));
        assert!(!verify_with_jwks(&k.jwks(), &h, b"{\"a\":2}"));
        let other = Keys::from_seed([2; 32]);
        assert!(!verify_with_jwks(&other.jwks(), &h, b"{\"a\":1}"));
    }

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let k = Keys::from_seed([1; 32]);
        let t = k.mint(&claims());
        assert_eq!(k.check(&t), Some(claims()));
        assert_eq!(Keys::from_seed([2; 32]).check(&t), None);
        let (p, s) = t.split_once('.').unwrap();
        let mut forged = claims();
        forged.gen = 4;
        let p2 = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(k.check(&format!("{p2}.{s}")), None);
        assert_eq!(k.check(p), None);
        assert_eq!(k.check("garbage"), None);
    }
}
