//! The `rpkv` binary.

fn main() -> std::process::ExitCode {
    rpkv::cli::main()
}
