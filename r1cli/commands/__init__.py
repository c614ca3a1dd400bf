"""One thin module per subcommand: flags -> config -> engine call."""
