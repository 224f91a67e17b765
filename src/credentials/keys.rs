//! WireGuard keys as they appear in credential files: 32 bytes, standard base64.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

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

    pub fn to_wg(&self) -> wireguard_control::Key {
        wireguard_control::Key(self.0)
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

    /// The matching public key (X25519 base point multiplication).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(wireguard_control::Key(self.0).get_public().0)
    }

    /// Base64 text, for writing the credentials file only.
    pub fn expose_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn to_wg(&self) -> wireguard_control::Key {
        wireguard_control::Key(self.0)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        for byte in self.0.iter_mut() {
            // Volatile so the compiler cannot drop the store as dead.
            // SAFETY: `byte` is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
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

    #[test]
    fn decode_rejects_wrong_lengths() {
        assert!(decode_key(&STANDARD.encode([1u8; 31])).is_none());
        assert!(decode_key("not base64!").is_none());
        assert_eq!(decode_key(&STANDARD.encode([1u8; 32])), Some([1u8; 32]));
    }
}
