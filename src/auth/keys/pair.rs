//! One RSA key pair for RS256: made by aws-lc-rs, kept as its public JWK components and its
//! private half sealed with AES-256-GCM under a key derived from `JWT_SECRET` by HKDF-SHA256.
use anyhow::Context;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{hkdf, rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The public half as a JWK carries it: base64url modulus and exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub n: String,
    pub e: String,
}

impl PublicJwk {
    pub fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        DecodingKey::from_rsa_components(&self.n, &self.e).context("a stored public key is invalid")
    }
}

/// A fresh pair: its public JWK and its private key as PKCS#8 DER (to be sealed at once).
pub struct NewPair {
    pub public: PublicJwk,
    pub pkcs8: Vec<u8>,
}

/// A new RSA-2048 key pair.
pub fn generate() -> anyhow::Result<NewPair> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let public = pair.public_key();
    let public = PublicJwk {
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    };
    let pkcs8 = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("could not export the RSA key"))?
        .as_ref()
        .to_vec();
    Ok(NewPair { public, pkcs8 })
}

/// The signing key jsonwebtoken takes (PKCS#1 `RSAPrivateKey`) from a PKCS#8 key.
pub fn encoding_key(pkcs8: &[u8]) -> anyhow::Result<EncodingKey> {
    // Checked here once, so a bad key fails at load and not at the first sign-in.
    KeyPair::from_pkcs8(pkcs8).map_err(|e| anyhow::anyhow!("a signing key is invalid: {e}"))?;
    Ok(EncodingKey::from_rsa_der(pkcs1_from_pkcs8(pkcs8)?))
}

/// PKCS#8 `PrivateKeyInfo` is `SEQUENCE { version, algorithm, privateKey OCTET STRING, … }`;
/// for RSA the octet string holds the PKCS#1 key. aws-lc-rs exports only PKCS#8.
fn pkcs1_from_pkcs8(der: &[u8]) -> anyhow::Result<&[u8]> {
    let (tag, info, _) = tlv(der)?;
    anyhow::ensure!(tag == 0x30, "PKCS#8 key is not a SEQUENCE");
    let (_, _, rest) = tlv(info)?; // version
    let (_, _, rest) = tlv(rest)?; // algorithm
    let (tag, key, _) = tlv(rest)?;
    anyhow::ensure!(tag == 0x04, "PKCS#8 key holds no OCTET STRING");
    Ok(key)
}

/// One DER tag-length-value: the tag, the value and what follows.
fn tlv(der: &[u8]) -> anyhow::Result<(u8, &[u8], &[u8])> {
    let short = || anyhow::anyhow!("truncated DER");
    let (&tag, rest) = der.split_first().ok_or_else(short)?;
    let (&first, rest) = rest.split_first().ok_or_else(short)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        anyhow::ensure!(
            (1..=4).contains(&count) && rest.len() >= count,
            "bad DER length"
        );
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[count..])
    };
    anyhow::ensure!(rest.len() >= len, "truncated DER");
    Ok((tag, &rest[..len], &rest[len..]))
}

/// Seals and opens private keys under the key derived from `JWT_SECRET`. The kid is bound in
/// as associated data, so a sealed key moved to another row does not open.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

const SALT: &[u8] = b"otp-login signing keys v1";

impl Sealer {
    pub fn new(secret: &[u8]) -> Self {
        let okm = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(secret);
        let okm = okm
            .expand(&[b"aes-256-gcm private key"], &AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            key: std::sync::Arc::new(LessSafeKey::new(UnboundKey::from(okm))),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`, in hex. A random 96-bit nonce per key: a few keys a year
    /// are far from the 2^32 messages where random nonces start to risk a repeat.
    pub fn seal(&self, kid: &str, pkcs8: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce).map_err(|_| anyhow::anyhow!("no randomness for a nonce"))?;
        let mut sealed = pkcs8.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| anyhow::anyhow!("could not seal a signing key"))?;
        Ok(hex::encode([nonce.as_slice(), &sealed].concat()))
    }

    /// The PKCS#8 key sealed for `kid`; an error when `JWT_SECRET` is not the one it was
    /// sealed under.
    pub fn open(&self, kid: &str, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = hex::decode(sealed).context("a sealed signing key is not hex")?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "a sealed signing key is too short");
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buffer = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| {
                anyhow::anyhow!(
                    "signing key {kid} does not open with this JWT_SECRET \
                     (was JWT_SECRET changed? see SECURITY.md: Signing keys)"
                )
            })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_secret_and_kid() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal("k1", b"private").unwrap();
        assert!(!sealed.contains(&hex::encode(b"private")));
        assert_eq!(sealer.open("k1", &sealed).unwrap(), b"private");
        assert!(sealer.open("k2", &sealed).is_err());
        assert!(Sealer::new(&[8; 32]).open("k1", &sealed).is_err());
    }

    #[test]
    fn a_generated_pair_signs_what_its_public_half_verifies() {
        let pair = generate().unwrap();
        assert!(pair.public.n.len() >= 342, "2048 bits or more");
        assert_eq!(pair.public.e, "AQAB");
        let key = encoding_key(&pair.pkcs8).unwrap();
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let token = jsonwebtoken::encode(&header, &serde_json::json!({"a": 1}), &key).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &pair.public.decoding_key().unwrap(),
            &validation,
        );
        assert!(decoded.is_ok(), "{decoded:?}");
    }
}
