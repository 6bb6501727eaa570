#!/usr/bin/env bash
# Runs the README's "## Walkthrough" section as written: every ```sh block of the section, in
# order, in one bash (so `cd` and `&` jobs carry over), in a fresh directory, with set -e.
# Then every "# -> TEXT" line of those blocks must appear in what the commands printed.
#
# Only where the walkthrough's server lives is rewritten, so that it runs beside anything
# else on the machine: 127.0.0.1:8080 -> a free port, /var/lib/funcd -> a temporary state
# directory, /tmp/funcd-serve.log -> a file in it, and `funcd serve` gets --listen and
# --state-dir for them, and OPENFAAS_URL points the client at that port (the walkthrough uses
# the default gateway). Credentials go to a
# private OPENFAAS_CONFIG. A block after "<!-- walkthrough: needs async -->" is skipped, with
# a note, while the gateway has no /async-function route.
#
#   tests/cli/readme_walkthrough.sh README.md BIN_DIR
set -euo pipefail
README=$(realpath "$1")
BIN_DIR=$(realpath "$2")

WORK=$(mktemp -d /tmp/funcd-walkthrough-XXXXXX)
chmod 755 "$WORK"  # the state directory below must be reachable by the sandbox's uid
STATE="$WORK/state"
mkdir -m 755 "$STATE" "$WORK/project"
cleanup() {
  # Stop what the walkthrough started in the background (funcd serve), if still running.
  if [ -f "$WORK/jobs" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$WORK/jobs"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The walkthrough's sh blocks, each prefixed with a marker line saying whether it needs async.
awk '
  /^## Walkthrough/ { inside = 1; next }
  inside && /^## / { inside = 0 }
  !inside { next }
  /<!-- walkthrough: needs async -->/ { needs_async = 1; next }
  /^```sh$/ { in_block = 1; print (needs_async ? "#@block async" : "#@block"); needs_async = 0; next }
  /^```$/ && in_block { in_block = 0; next }
  in_block { print }
' "$README" > "$WORK/blocks.txt"
[ -s "$WORK/blocks.txt" ] || { echo "no Walkthrough section with sh blocks in $README" >&2; exit 1; }

# One script: the blocks with the rewrites, async blocks guarded.
{
  echo 'set -euo pipefail'
  echo "async_available() { [ \"\$(curl -s -X POST http://127.0.0.1:$PORT/async-function/walkthrough-probe)\" != '404 page not found' ]; }"
  in_async=0
  while IFS= read -r line; do
    if [[ $line == "#@block"* ]]; then
      [ "$in_async" = 1 ] && echo 'else echo "walkthrough: SKIPPED a block: this funcd serve has no async queue"; fi'
      in_async=0
      if [[ $line == "#@block async" ]]; then
        echo 'if async_available; then'
        in_async=1
      fi
      continue
    fi
    line=${line//127.0.0.1:8080/127.0.0.1:$PORT}
    line=${line//\/var\/lib\/funcd/$STATE}
    line=${line//\/tmp\/funcd-serve.log/$WORK/serve.log}
    line=${line//funcd serve /funcd serve --listen 127.0.0.1:$PORT --state-dir $STATE }
    if [[ $line == *"&" || $line == *"& "* ]] && [[ $line != *"&&"* ]]; then
      printf '%s\necho $! >> %q\n' "$line" "$WORK/jobs"
    else
      printf '%s\n' "$line"
    fi
  done < "$WORK/blocks.txt"
  [ "$in_async" = 1 ] && echo 'else echo "walkthrough: SKIPPED a block: this funcd serve has no async queue"; fi'
} > "$WORK/walkthrough.sh"

echo "== running the README walkthrough (gateway 127.0.0.1:$PORT, state $STATE)"
status=0
(
  cd "$WORK/project"
  export PATH="$BIN_DIR:$PATH" HOME="$WORK" OPENFAAS_CONFIG="$WORK/openfaas" FUNCD_STATE_DIR="$STATE"
  export OPENFAAS_URL="http://127.0.0.1:$PORT"  # the walkthrough's default gateway, moved
  bash -x "$WORK/walkthrough.sh"
) > "$WORK/output.txt" 2>&1 || status=$?
cat "$WORK/output.txt"
if [ "$status" != 0 ]; then
  echo "walkthrough: FAILED (exit $status); funcd serve's log:" >&2
  tail -30 "$WORK/serve.log" >&2 2>/dev/null || true
  exit 1
fi

# Expected output: "# -> TEXT" lines, except in skipped blocks.
skipped_async=0
grep -q 'SKIPPED a block' "$WORK/output.txt" && skipped_async=1
grep -v '^+' "$WORK/output.txt" > "$WORK/printed.txt" || true  # without bash -x's trace
failed=0
checked=0
in_async=0
while IFS= read -r line; do
  if [[ $line == "#@block"* ]]; then
    in_async=0
    [[ $line == "#@block async" ]] && in_async=1
    continue
  fi
  if [[ $line == "# -> "* ]]; then
    [ "$in_async" = 1 ] && [ "$skipped_async" = 1 ] && continue
    want=${line#"# -> "}
    want=${want//127.0.0.1:8080/127.0.0.1:$PORT}
    checked=$((checked + 1))
    if ! grep -qF -- "$want" "$WORK/printed.txt"; then
      echo "walkthrough: expected output not found: $want" >&2
      failed=1
    fi
  fi
done < "$WORK/blocks.txt"
[ "$failed" = 0 ] || exit 1
echo "walkthrough: passed ($checked expected outputs checked)"
