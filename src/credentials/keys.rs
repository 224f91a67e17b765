//! WireGuard keys as they appear in credential files: 32 bytes, standard base64.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use curve25519_dalek::montgomery::MontgomeryPoint;

/// u = 9, the X25519 base point.
const X25519_BASEPOINT: MontgomeryPoint = MontgomeryPoint([
    9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/// Decodes 32 bytes of standard base64, the only key encoding SORACOM and `wg` use.
pub(crate) fn decode_key(text: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// A public key (ours or the server's). Public keys are not secret, so they print in base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

/// The device's private key. It has no Display, its Debug is redacted, and its bytes are
/// overwritten when dropped, so it cannot end up in logs or status output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PrivateKey(bytes)
    }

    /// A fresh key from the operating system's randomness, clamped as `wg genkey` does.
    pub fn generate() -> std::io::Result<Self> {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| std::io::Error::other("the system's random source failed"))?;
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        Ok(PrivateKey(bytes))
    }

    /// The matching public key: X25519 of the key and the base point (RFC 7748). The Montgomery
    /// ladder clamps the scalar itself, so unclamped keys from elsewhere derive as `wg pubkey`
    /// derives them.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(X25519_BASEPOINT.mul_clamped(self.0).0)
    }

    /// Base64 text, for writing the credentials file only.
    pub fn expose_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The raw bytes, for configuring the device only.
    pub(crate) fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites a buffer that held a secret (a key, or a message carrying one).
pub(crate) fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // Volatile so the compiler cannot drop the store as dead.
        // SAFETY: `byte` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(byte, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_debug_is_redacted() {
        let key = PrivateKey::from_bytes([7; 32]);
        let text = format!("{key:?}");
        assert!(!text.contains(&key.expose_base64()));
        assert!(text.contains("redacted"));
    }

    fn hex32(text: &str) -> [u8; 32] {
        let bytes: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    #[test]
    fn public_key_matches_rfc7748_vectors() {
        // RFC 7748 section 6.1: Alice's and Bob's private keys and their public keys.
        let alice = PrivateKey::from_bytes(hex32(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let bob = PrivateKey::from_bytes(hex32(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            alice.public_key().0,
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            bob.public_key().0,
            hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
    }

    #[test]
    fn generated_keys_are_clamped_and_distinct() {
        let a = PrivateKey::generate().unwrap();
        let b = PrivateKey::generate().unwrap();
        assert_ne!(a, b);
        for key in [&a, &b] {
            let bytes = key.expose_bytes();
            assert_eq!(bytes[0] & 7, 0);
            assert_eq!(bytes[31] & 0xc0, 0x40);
        }
        assert_ne!(a.public_key(), b.public_key());
    }

    #[test]
    fn decode_rejects_wrong_lengths() {
        assert!(decode_key(&STANDARD.encode([1u8; 31])).is_none());
        assert!(decode_key("not base64!").is_none());
        assert_eq!(decode_key(&STANDARD.encode([1u8; 32])), Some([1u8; 32]));
    }
}
