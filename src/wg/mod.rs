//! WireGuard device for the Arc path.
