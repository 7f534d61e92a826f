#compdef sse-cli

_sse_cli_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SSE_CLI_COMPLETE=complete_zsh sse-cli)
}

compdef _sse_cli_completion sse-cli
