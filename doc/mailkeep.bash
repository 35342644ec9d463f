# bash completion for mailkeep(1). The commands and each command's options
# come from mailkeep itself (`mailkeep --help`, `mailkeep COMMAND --help`), so
# they are always those of the mailkeep installed; account and relay names
# come from the config file (--config on the line, else $MAILKEEP_CONFIG,
# else $XDG_CONFIG_HOME/mailkeep/config.ini, else ~/.config/mailkeep/config.ini).

_mailkeep_config_file() {
  local i w
  for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == --config && $((i + 1)) -lt ${#COMP_WORDS[@]} && $((i + 1)) -ne $COMP_CWORD ]]; then
      printf '%s\n' "${COMP_WORDS[i + 1]}"
      return
    fi
    [[ $w == --config=* ]] && { printf '%s\n' "${w#--config=}"; return; }
  done
  if [[ -n ${MAILKEEP_CONFIG-} ]]; then
    printf '%s\n' "$MAILKEEP_CONFIG"
  elif [[ ${XDG_CONFIG_HOME-} == /* ]]; then
    printf '%s\n' "$XDG_CONFIG_HOME/mailkeep/config.ini"
  else
    printf '%s\n' "$HOME/.config/mailkeep/config.ini"
  fi
}

# _mailkeep_sections account|relay: the NAMEs of [KIND.NAME] in the config file.
_mailkeep_sections() {
  local file
  file=$(_mailkeep_config_file)
  file=${file/#\~/$HOME}
  [[ -f $file && -r $file ]] || return 0
  sed -n "s/^[[:space:]]*\[$1\.\([A-Za-z0-9._-]*\)\][[:space:]]*\$/\1/p" "$file" 2>/dev/null
}

_mailkeep() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local mk=${COMP_WORDS[0]/#\~/$HOME} cmd="" i
  COMPREPLY=()
  # The command is the first word that is neither an option nor its value.
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --config | --archive) ((i++)) ;;
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  case $prev in
    --config | --token-file | --new-passphrase-file)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return ;;
    --archive | --out | -o)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      [[ $cmd == export ]] && mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      return ;;
    --layout)
      mapfile -t COMPREPLY < <(compgen -W "maildir++ nested" -- "$cur")
      return ;;
    --folder-names)
      mapfile -t COMPREPLY < <(compgen -W "mutf7 utf8" -- "$cur")
      return ;;
    --to-account | --account)
      mapfile -t COMPREPLY < <(compgen -W "$(_mailkeep_sections account)" -- "$cur")
      return ;;
    --relay)
      mapfile -t COMPREPLY < <(compgen -W "$(_mailkeep_sections relay)" -- "$cur")
      return ;;
    --kdf-memory)
      mapfile -t COMPREPLY < <(compgen -W "1 2 4 8 16 32 64 128 256 512 1024" -- "$cur")
      return ;;
    --listen)
      mapfile -t COMPREPLY < <(compgen -W "127.0.0.1:8025 127.0.0.1:0" -- "$cur")
      return ;;
    --sort)
      mapfile -t COMPREPLY < <(compgen -W "newest oldest relevance" -- "$cur")
      return ;;
    --format)
      case $cmd in
        search) mapfile -t COMPREPLY < <(compgen -W "text json ids mids" -- "$cur") ;;
        export) mapfile -t COMPREPLY < <(compgen -W "eml mbox maildir" -- "$cur") ;;
      esac
      return ;;
  esac
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--config --archive --json --quiet --verbose --help --version" -- "$cur")
    else
      local commands
      commands=$("$mk" --help 2>/dev/null | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
      mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    fi
    return
  fi
  if [[ $cur == -* ]]; then
    # Options as `mailkeep COMMAND --help` lists them ("  -n [ --dry-run ]",
    # "  --lock-timeout arg"), without the --debug-* ones kept for tests.
    local options
    options=$("$mk" "$cmd" --help 2>/dev/null | grep -oE '^  (-[A-Za-z] \[ )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+$' |
      grep -v -- '^--debug-')
    mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    return
  fi
  case $cmd in
    sync | oauth) mapfile -t COMPREPLY < <(compgen -W "$(_mailkeep_sections account)" -- "$cur") ;;
    import)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
  esac
}
complete -F _mailkeep mailkeep
