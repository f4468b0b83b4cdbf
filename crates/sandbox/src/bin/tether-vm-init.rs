//! A VM's init as a standalone program, for this crate's tests (the `tether` binary runs the
//! same code as `tether __vm-init`).

fn main() {
    tether_sandbox::init_main(std::env::args_os().collect())
}
