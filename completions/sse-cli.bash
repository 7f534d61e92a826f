_sse_cli_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _SSE_CLI_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _sse_cli_completion sse-cli
