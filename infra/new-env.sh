#!/bin/sh
# Create the local secrets the compose file needs, once: infra/.env (API keys shared by each
# tool and the orchestrator, the gateway key, the callback secret, the Functions keys) and the
# Functions host key file the orchestrator container reads. Existing files are kept, so running
# it again never rotates keys under a running mesh; pass --force to replace them.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
env_file="$here/.env"
keys_dir="$here/.secrets/functions"
force=no
[ "${1:-}" = "--force" ] && force=yes

secret() {
    # 32 random bytes as hex: safe in headers, URLs, comma-separated lists and JSON.
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

if [ -f "$env_file" ] && [ "$force" = no ]; then
    echo "keeping $env_file (use --force to replace it)"
else
    umask 077
    cat > "$env_file" <<ENV
# Local secrets for infra/compose.yaml, written by new-env.sh. Never commit this file.
TOOLMESH_GATEWAY_KEY=$(secret)
TOOLMESH_CALLBACK_SECRET=$(secret)
TOOLMESH_FUNCTIONS_KEY=$(secret)
TOOLMESH_MASTER_KEY=$(secret)
NOTES_API_KEY=$(secret)
ISSUES_API_KEY=$(secret)
CALC_API_KEY=$(secret)
MAILBOX_API_KEY=$(secret)
# Optional: an OpenAI-compatible upstream for the gateway (unset: the offline provider).
# OPENAI_BASE_URL=https://api.openai.com/v1
# OPENAI_API_KEY=
# OPENAI_MODEL=gpt-4o-mini
ENV
    echo "wrote $env_file"
fi

function_key=$(sed -n 's/^TOOLMESH_FUNCTIONS_KEY=//p' "$env_file")
master_key=$(sed -n 's/^TOOLMESH_MASTER_KEY=//p' "$env_file")
if [ -z "$function_key" ] || [ -z "$master_key" ]; then
    echo "error: $env_file lacks TOOLMESH_FUNCTIONS_KEY or TOOLMESH_MASTER_KEY; rerun with --force" >&2
    exit 1
fi

umask 077
mkdir -p "$keys_dir"
cat > "$keys_dir/host.json" <<JSON
{
  "masterKey": {"name": "master", "value": "$master_key", "encrypted": false},
  "functionKeys": [{"name": "default", "value": "$function_key", "encrypted": false}],
  "systemKeys": []
}
JSON
echo "wrote $keys_dir/host.json (send TOOLMESH_FUNCTIONS_KEY as x-functions-key)"
