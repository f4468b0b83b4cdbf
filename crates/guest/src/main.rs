//! `tether-guest`: PID 1 of a tether KVM guest, or (`--stdio`) the agent on stdin/stdout.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag] if flag == "--stdio" => {
            tether_guest::serve(std::io::stdin(), std::io::stdout(), false)
        }
        [] if std::process::id() == 1 => run_as_init(),
        _ => {
            eprintln!("usage: tether-guest --stdio   (or run as PID 1 of a tether KVM guest)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tether-guest: {e}");
            ExitCode::from(1)
        }
    }
}

/// Boots the guest, then serves the port; reopens it whenever the host disconnects. PID 1
/// never returns: if booting fails, the guest powers off so the host sees QEMU exit.
fn run_as_init() -> ! {
    if let Err(e) = tether_guest::boot_as_init() {
        eprintln!("tether-guest: boot failed: {e}");
        tether_guest::power_off();
    }
    loop {
        let (reader, writer) = match tether_guest::open_port() {
            Ok(port) => port,
            Err(e) => {
                eprintln!("tether-guest: {e}");
                tether_guest::power_off();
            }
        };
        if let Err(e) = tether_guest::serve(reader, writer, true) {
            eprintln!("tether-guest: agent channel: {e}");
        }
        // The host closed the port: a read on a disconnected virtio-serial port returns at
        // once, so wait a little before trying again.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
