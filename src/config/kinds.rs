//! Keyword values of the configuration (`backend: auto`, `period: monthly`, ...).

use std::fmt;

use serde::Deserialize;

macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum! {
    /// How the Arc WireGuard device is provided.
    Backend {
        /// The kernel module when it can be used, otherwise the userspace command.
        Auto => "auto",
        Kernel => "kernel",
        Userspace => "userspace",
    }
}

keyword_enum! {
    /// Whether the Wi-Fi uplink is followed over nl80211 as well as route netlink.
    Nl80211Mode {
        /// When the interface is an 802.11 device.
        Auto => "auto",
        /// Route netlink only (carrier and operstate), as for an Ethernet uplink.
        Off => "off",
    }
}

keyword_enum! {
    /// What happens to the Arc device and arcway's routes when arcway stops.
    OnStop {
        Remove => "remove",
        Keep => "keep",
    }
}

keyword_enum! {
    /// How held traffic is refused, so applications notice at once instead of timing out.
    HoldAction {
        /// ICMP administratively prohibited (TCP and UDP alike).
        Reject => "reject",
        /// TCP reset for TCP, ICMP reject for the rest.
        TcpReset => "tcp-reset",
    }
}

keyword_enum! {
    /// The accounting period of a data budget.
    Period {
        Daily => "daily",
        Monthly => "monthly",
    }
}

keyword_enum! {
    /// Log verbosity.
    LogLevel {
        Error => "error",
        Warn => "warn",
        Info => "info",
        Debug => "debug",
        Trace => "trace",
    }
}

keyword_enum! {
    /// Log line format; `auto` drops timestamps when journald or logd adds its own.
    LogFormat {
        Auto => "auto",
        Plain => "plain",
        Json => "json",
    }
}

keyword_enum! {
    /// Transport protocols a class can match.
    Protocol {
        Tcp => "tcp",
        Udp => "udp",
        Icmp => "icmp",
        Icmpv6 => "icmpv6",
    }
}

impl Protocol {
    /// Whether `ports:` means anything for this protocol.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }
}
