fn main() {
    std::process::exit(rifle_tui::cli::main());
}
