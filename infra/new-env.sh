#!/bin/sh
# Create the local secrets the compose file needs: infra/.env (every ${NAME:?...} variable of
# compose.yaml, i.e. the API keys each tool shares with the orchestrator, the gateway key and
# the callback secret, plus the Functions host keys) and the Functions key file the
# orchestrator container reads. Existing values are kept, so running it again never rotates a
# key under a running mesh; it only adds what is missing (e.g. after a tool is added).
# --force replaces every value.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
env_file="$here/.env"
keys_dir="$here/.secrets/functions"

secret() {
    # 32 random bytes as hex: safe in headers, URLs, comma-separated lists and JSON.
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

umask 077
if [ "${1:-}" = "--force" ] || [ ! -f "$env_file" ]; then
    printf '%s\n' "# Local secrets for infra/compose.yaml, written by new-env.sh. Never commit this file." \
        "# Optional upstream for the gateway (unset: the offline provider):" \
        "# OPENAI_BASE_URL=https://api.openai.com/v1" "# OPENAI_API_KEY=" "# OPENAI_MODEL=gpt-4o-mini" \
        > "$env_file"
    echo "wrote $env_file"
fi

required=$(grep -o '\${[A-Z0-9_]*:?' "$here/compose.yaml" | sed 's/^\${//; s/:?$//' | sort -u)
added=0
for name in $required TOOLMESH_FUNCTIONS_KEY TOOLMESH_MASTER_KEY; do
    if ! grep -q "^$name=" "$env_file"; then
        echo "$name=$(secret)" >> "$env_file"
        added=$((added + 1))
    fi
done
echo "$env_file: $added secret(s) added, existing ones kept"

function_key=$(sed -n 's/^TOOLMESH_FUNCTIONS_KEY=//p' "$env_file")
master_key=$(sed -n 's/^TOOLMESH_MASTER_KEY=//p' "$env_file")
if [ -z "$function_key" ] || [ -z "$master_key" ]; then
    echo "error: $env_file has an empty TOOLMESH_FUNCTIONS_KEY or TOOLMESH_MASTER_KEY; rerun with --force" >&2
    exit 1
fi

mkdir -p "$keys_dir"
cat > "$keys_dir/host.json" <<JSON
{
  "masterKey": {"name": "master", "value": "$master_key", "encrypted": false},
  "functionKeys": [{"name": "default", "value": "$function_key", "encrypted": false}],
  "systemKeys": []
}
JSON
echo "wrote $keys_dir/host.json (send TOOLMESH_FUNCTIONS_KEY as x-functions-key)"
