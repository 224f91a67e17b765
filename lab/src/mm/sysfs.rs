//! A small sysfs tree for ModemManager's kernel-device backend when it runs without udev.
//!
//! ModemManager resolves `/sys/class/<subsystem>/<name>` and walks up from there: the first
//! directory with `bInterfaceClass` is the USB interface, the first with `idVendor` the
//! physical device, and `driver`/`subsystem` links name drivers and buses. A pty has no such
//! parents, so the lab builds them here and bind-mounts `class/tty` and `class/net` over
//! `/sys/class/tty` and `/sys/class/net` in ModemManager's own mount namespace only.
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// USB ids of a u-blox LARA-R2, which selects ModemManager's u-blox plugin.
pub const VENDOR: &str = "1546";
pub const PRODUCT: &str = "110a";

pub struct Sysfs {
    root: PathBuf,
}

fn write(dir: &Path, name: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(name), format!("{value}\n"))
}

impl Sysfs {
    pub fn create(root: &Path) -> io::Result<Sysfs> {
        for d in [
            "class/tty",
            "class/net",
            "bus/usb",
            "bus/tty",
            "bus/net",
            "drivers/option1",
            "drivers/cdc_ether",
            "drivers/usb",
        ] {
            fs::create_dir_all(root.join(d))?;
        }
        Ok(Sysfs {
            root: root.to_owned(),
        })
    }

    pub fn class(&self, subsystem: &str) -> PathBuf {
        self.root.join("class").join(subsystem)
    }

    fn link(&self, dir: &Path, name: &str, target: &str) -> io::Result<()> {
        symlink(self.root.join(target), dir.join(name))
    }

    /// Creates USB device `usb<bus>/<bus>-1` with an AT port `tty` (interface 0, option1) and
    /// a network port `net` (interface 12, cdc_ether); returns the device's path (ModemManager's
    /// `Physdev`).
    pub fn add_device(&self, bus: u32, tty: &str, net: &str) -> io::Result<PathBuf> {
        let dev = self
            .root
            .join(format!("devices/pci0000:00/usb{bus}/{bus}-1"));
        fs::create_dir_all(&dev)?;
        for (k, v) in [
            ("idVendor", VENDOR),
            ("idProduct", PRODUCT),
            ("bcdDevice", "0100"),
            ("manufacturer", "u-blox"),
            ("product", "LARA-R280"),
        ] {
            write(&dev, k, v)?;
        }
        self.link(&dev, "subsystem", "bus/usb")?;
        self.link(&dev, "driver", "drivers/usb")?;
        let ports = [
            (0u8, ("ff", "ff", "ff"), "option1", "tty", tty),
            (12u8, ("02", "06", "00"), "cdc_ether", "net", net),
        ];
        for (num, (class, sub, proto), driver, subsystem, name) in ports {
            let intf = dev.join(format!("{bus}-1:1.{num}"));
            fs::create_dir_all(&intf)?;
            write(&intf, "bInterfaceClass", class)?;
            write(&intf, "bInterfaceSubClass", sub)?;
            write(&intf, "bInterfaceProtocol", proto)?;
            write(&intf, "bInterfaceNumber", &format!("{num:02x}"))?;
            self.link(&intf, "subsystem", "bus/usb")?;
            self.link(&intf, "driver", &format!("drivers/{driver}"))?;
            let port = intf.join(subsystem).join(name);
            fs::create_dir_all(&port)?;
            self.link(&port, "subsystem", &format!("bus/{subsystem}"))?;
            let class = self.class(subsystem).join(name);
            let _ = fs::remove_file(&class);
            symlink(&port, class)?;
        }
        Ok(dev)
    }
}
