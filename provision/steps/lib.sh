# shellcheck shell=bash
# lib.sh: the helpers every claude-bus host step is made of. A step's composed script
# (provision/compose.ts) is: bash strict mode, the step's generated header of readonly values, this
# file, then the step's own file without the two lines that source this one.
#
# Reads from the header: SERVICE (the bus's systemd unit, which its handlers act on). The helpers
# that read a step's own header variables say which. Header variables are UPPER_CASE, and shellcheck
# takes those for environment variables: it needs no directive to accept them unassigned in a file.
#
# Every task compares before it writes. Each change prints one `changed: ...` line (the runner counts
# them, and a second run must print none) and notifies the handlers that must act on it.

# changed WHAT: reports one change.
changed() { printf 'changed: %s\n' "$*"; }

## Handlers ############################################################################################
# Declared once, here, in the order they run. A task notifies a handler when it changed something the
# handler acts on: install_file and remove_file take handler names, notify is for any other change.
# Each notified handler runs once, in this order, when the step succeeds, or earlier where the step
# calls flush_handlers (when its next task needs, say, nginx serving a new site already).
# When the step fails, in its body or in a handler, the handlers still pending do not run. Its
# on_failure functions undo what must not stay half done (the nginx step puts its previous site back),
# so the next run makes the same change again and notifies again.
readonly HANDLERS=("daemon-reload" "restart claude-bus" "reload claude-bus" "reload nginx" "reload ssh")
declare -A NOTIFIED=()

run_handler() {
  case $1 in
    daemon-reload)
      systemctl daemon-reload
      changed "systemd re-read its unit files"
      ;;
    "restart claude-bus")
      # A restart re-reads the credentials too; a reload now would signal a process still starting up.
      unset 'NOTIFIED[reload claude-bus]'
      systemctl restart "$SERVICE"
      changed "restarted $SERVICE"
      ;;
    "reload claude-bus")
      # Only a running service holds credentials to re-read; a stopped one reads them when it starts.
      if systemctl is-active --quiet "$SERVICE"; then
        systemctl reload "$SERVICE"
        changed "reloaded $SERVICE: it re-read its credentials"
      fi
      ;;
    "reload nginx")
      nginx -t -q
      systemctl reload-or-restart nginx
      changed "reloaded nginx"
      ;;
    "reload ssh")
      # Debian's sshd unit; a reload re-execs the listener with the new host keys, sessions stay.
      systemctl try-reload-or-restart ssh
      changed "reloaded ssh"
      ;;
  esac
}

# notify HANDLER...: the handlers run once at the end of the step.
notify() {
  local handler
  require_handlers "$@"
  for handler in "$@"; do NOTIFIED[$handler]=1; done
}

# flush_handlers: runs the notified handlers now, each once, in their declared order.
flush_handlers() {
  local handler
  for handler in "${HANDLERS[@]}"; do
    if [[ -n ${NOTIFIED[$handler]:-} ]]; then
      unset "NOTIFIED[$handler]"
      run_handler "$handler"
    fi
  done
}

# require_handlers NAME...: each is a declared handler, so a misspelt one fails before anything changes.
require_handlers() {
  local name known
  for name in "$@"; do
    for known in "${HANDLERS[@]}"; do
      if [[ $name == "$known" ]]; then continue 2; fi
    done
    echo "no handler named '$name' (the handlers are: ${HANDLERS[*]})" >&2
    exit 1
  done
}

## Temp files, undo and clean-up #######################################################################
# The step owns the EXIT trap (a step registers with on_failure and on_exit instead of setting its own).
# On success it runs the pending handlers; on failure the on_failure functions; then, either way, the
# on_exit functions, and it removes every temp file. A signal ends the step through the same path.
TEMP_FILES=()
FAILURE_ACTIONS=()
EXIT_ACTIONS=()

# temp_file VAR DIR: a new temp file in DIR, on the destination's filesystem so that mv is atomic; its
# path goes into VAR. Removed when the step exits, so a failed step never leaves a half-made copy of a
# site, a password hash or a credential next to the real file.
temp_file() {
  local path
  path=$(mktemp "$2/.claude-bus.XXXXXX")
  TEMP_FILES+=("$path")
  printf -v "$1" '%s' "$path"
}

# on_failure FUNCTION: runs FUNCTION if the step fails, before the on_exit functions.
on_failure() { FAILURE_ACTIONS+=("$1"); }

# on_exit FUNCTION: runs FUNCTION when the step ends, whichever way (after the handlers on success).
on_exit() { EXIT_ACTIONS+=("$1"); }

finish() {
  local status=$? action
  set +e
  if ((status == 0)); then
    # A handler that fails fails the step: strict mode again, in a subshell whose status is kept.
    (set -e && flush_handlers)
    status=$?
  fi
  if ((status != 0)); then
    for action in "${FAILURE_ACTIONS[@]}"; do "$action"; done
  fi
  for action in "${EXIT_ACTIONS[@]}"; do "$action"; done
  rm -f -- "${TEMP_FILES[@]}"
  exit "$status"
}
trap finish EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

## Files and directories ###############################################################################

# install_file DEST MODE OWNER:GROUP [HANDLER...] < CONTENT: writes DEST atomically, only when its
# content, mode or owner differ, then reports the change and notifies the handlers.
install_file() {
  local dest=$1 mode=$2 owner=$3 tmp
  shift 3
  require_handlers "$@"
  temp_file tmp "$(dirname "$dest")"
  cat > "$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c '%a %U:%G' "$dest") == "$mode $owner" ]]; then
    rm -f "$tmp"
    return 0
  fi
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$dest"
  changed "$dest"
  notify "$@"
}

# remove_file PATH [HANDLER...]: removes PATH when it exists, then reports it and notifies the handlers.
remove_file() {
  local path=$1
  shift
  require_handlers "$@"
  if [[ -e $path || -L $path ]]; then
    rm -f "$path"
    changed "removed $path"
    notify "$@"
  fi
}

# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    chown "$owner" "$dir"
    chmod "$mode" "$dir"
    changed "created $dir ($mode $owner)"
  elif [[ $(stat -c '%a %U:%G' "$dir") != "$mode $owner" ]]; then
    chown "$owner" "$dir"
    chmod "$mode" "$dir"
    changed "$dir is now $mode $owner"
  fi
}

## Units ###############################################################################################

# enable_and_start UNIT [REASON]: UNIT starts at boot and runs now, each reported when it was not so.
# With REASON, a UNIT that was running already is restarted (its files changed), and REASON says why.
enable_and_start() {
  local name=$1 reason=${2:-}
  if ! systemctl is-enabled --quiet "$name"; then
    systemctl enable --quiet "$name"
    changed "enabled $name"
  fi
  if ! systemctl is-active --quiet "$name"; then
    systemctl start "$name"
    changed "started $name"
  elif [[ -n $reason ]]; then
    systemctl restart "$name"
    changed "restarted $name: $reason"
  fi
}

## Accounts ##########################################################################################

# ensure_group NAME GID: the group NAME, made with GID when absent. One that exists keeps its number; a GID
# another group holds stops the step before anything is made.
ensure_group() {
  local name=$1 gid=$2 holder
  if getent group "$name" >/dev/null; then return 0; fi
  holder=$(getent group "$gid" | cut -d: -f1) || true # getent exits 2 for a number nobody holds
  if [[ -n $holder ]]; then
    echo "gid $gid, which group $name needs, belongs to group $holder on this host: give $holder another gid (groupmod -g), then run again" >&2
    exit 1
  fi
  groupadd --gid "$gid" "$name"
  changed "group $name (gid $gid)"
}

# ensure_user NAME UID [USERADD_OPTION...]: the user NAME, made with UID and the options when absent. One
# that exists keeps its number; a UID another user holds stops the step before anything is made.
ensure_user() {
  local name=$1 uid=$2 holder
  shift 2
  if getent passwd "$name" >/dev/null; then return 0; fi
  holder=$(getent passwd "$uid" | cut -d: -f1) || true
  if [[ -n $holder ]]; then
    echo "uid $uid, which user $name needs, belongs to user $holder on this host: give $holder another uid (usermod -u), then run again" >&2
    exit 1
  fi
  useradd --uid "$uid" "$@" "$name"
  changed "user $name (uid $uid)"
}

## The credential ######################################################################################

# read_credentials: reads the one secret, the credentials env text provision/credentials.ts renders, from
# stdin (never from arguments or the environment, and it never reaches the output: printf and [[ ]] are
# builtins). It must be exactly the lines BUS_USER=$BUS_USER, BUS_PASS=<password>, BUS_URL=$BUS_URL,
# with a password matching PASSWORD_REGEX. Sets CREDENTIALS (the text, verbatim) and BUS_PASS.
# Reads from the header: BUS_USER, BUS_URL, PASSWORD_REGEX, PASSWORD_RULE.
read_credentials() {
  local rest expected
  IFS= read -r -d '' CREDENTIALS || true
  if [[ -z $CREDENTIALS ]]; then
    echo "expected the bus credentials env text on stdin" >&2
    exit 1
  fi
  rest=${CREDENTIALS#"BUS_USER=$BUS_USER"$'\n'BUS_PASS=}
  BUS_PASS=${rest%%$'\n'*}
  printf -v expected 'BUS_USER=%s\nBUS_PASS=%s\nBUS_URL=%s\n' "$BUS_USER" "$BUS_PASS" "$BUS_URL"
  if [[ $CREDENTIALS != "$expected" ]]; then
    echo "stdin must be the credentials env text for $BUS_USER at $BUS_URL: the lines BUS_USER, BUS_PASS and BUS_URL, in this order" >&2
    exit 1
  fi
  if [[ ! $BUS_PASS =~ $PASSWORD_REGEX ]]; then
    echo "BUS_PASS $PASSWORD_RULE" >&2
    exit 1
  fi
}
