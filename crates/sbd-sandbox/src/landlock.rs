//! Landlock access rights (from `<linux/landlock.h>`) and the rule set a run gets.
//!
//! Landlock is applied by the payload after `pivot_root`, on sandbox paths. Every right the
//! kernel's ABI knows is "handled", so anything not granted below is denied — reading the
//! host's files (they are not mounted anyway), writing outside the writable places, executing
//! anything but the allowed programs, connecting or binding TCP ports (ABI ≥ 4, when network
//! is off), and signalling or reaching abstract UNIX sockets outside the sandbox (ABI ≥ 6).

pub(crate) const EXECUTE: u64 = 1 << 0;
pub(crate) const WRITE_FILE: u64 = 1 << 1;
pub(crate) const READ_FILE: u64 = 1 << 2;
pub(crate) const READ_DIR: u64 = 1 << 3;
pub(crate) const REMOVE_DIR: u64 = 1 << 4;
pub(crate) const REMOVE_FILE: u64 = 1 << 5;
pub(crate) const MAKE_DIR: u64 = 1 << 7;
pub(crate) const MAKE_REG: u64 = 1 << 8;
pub(crate) const MAKE_SOCK: u64 = 1 << 9;
pub(crate) const MAKE_FIFO: u64 = 1 << 10;
pub(crate) const MAKE_SYM: u64 = 1 << 12;
pub(crate) const REFER: u64 = 1 << 13;
pub(crate) const TRUNCATE: u64 = 1 << 14;
pub(crate) const IOCTL_DEV: u64 = 1 << 15;

pub(crate) const NET_BIND_TCP: u64 = 1 << 0;
pub(crate) const NET_CONNECT_TCP: u64 = 1 << 1;

pub(crate) const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
pub(crate) const SCOPE_SIGNAL: u64 = 1 << 1;

pub(crate) const READ: u64 = READ_FILE | READ_DIR;
pub(crate) const WRITE: u64 =
    WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_SYM | REFER | TRUNCATE;

/// Every filesystem right the given ABI version knows.
pub(crate) fn fs_rights(abi: i32) -> u64 {
    match abi {
        i32::MIN..=0 => 0,
        1 => (1 << 13) - 1,
        2 => (1 << 14) - 1,
        3 | 4 => (1 << 15) - 1,
        _ => (1 << 16) - 1,
    }
}

pub(crate) fn net_rights(abi: i32) -> u64 {
    if abi >= 4 { NET_BIND_TCP | NET_CONNECT_TCP } else { 0 }
}

pub(crate) fn scopes(abi: i32) -> u64 {
    if abi >= 6 { SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL } else { 0 }
}
