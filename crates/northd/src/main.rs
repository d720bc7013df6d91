//! `ovn-northd-rs`: the daemon that keeps the OVN Southbound database equal
//! to the translation of the Northbound one. Not written yet (the daemon
//! issue): until then the binary refuses to run rather than pretend.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ovn-northd-rs: the daemon is not implemented yet; keep running ovn-northd");
    ExitCode::from(1)
}
