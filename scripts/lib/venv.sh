# Shared by the scripts: a Python virtualenv per tool set, created on first use and reinstalled
# when its requirements change. Tool sets live apart because they pin conflicting versions
# (aws-sam-cli downgrades the boto3 that moto wants).
#
# Usage: source scripts/lib/venv.sh; ensure_venv DIR REQUIREMENT...

ensure_venv() {
    local venv="$1"
    shift
    local stamp="$venv/.installed"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$*" ]]; then
        return
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        local py
        py="$(command -v python3.11 || command -v python3 || true)"
        [[ -n "$py" ]] || { echo "python3 not found" >&2; return 1; }
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
            || { echo "$py is older than Python 3.10" >&2; return 1; }
        echo "creating $venv with $py" >&2
        if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
            # Debian without python3-venv: virtualenv from PyPI brings its own pip.
            rm -rf "$venv"
            local tmp
            tmp="$(mktemp -d)"
            "$py" -m pip install --disable-pip-version-check --quiet --target "$tmp" virtualenv
            PYTHONPATH="$tmp" "$py" -m virtualenv --quiet "$venv"
            rm -rf "$tmp"
        fi
    fi
    echo "installing $* into $venv" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$@"
    printf '%s\n' "$*" >"$stamp"
}

# Dummy credentials and no instance metadata: nothing the scripts run may reach AWS.
use_dummy_aws() {
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
    export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
}

# The tool sets, each pinned once here. Versions verified: moto 5.2, cargo-lambda 1.9.2,
# aws-sam-cli 1.170.0, cfn-lint 1.58.0.
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# moto server for the emulator-backed tests; exports MOTO_SERVER.
use_moto() {
    ensure_venv "$root_dir/.venv-moto" "moto[server]>=5.1,<6"
    export MOTO_SERVER="$root_dir/.venv-moto/bin/moto_server"
}

# cargo-lambda (and the zig it brings) first on PATH; exports CARGO_LAMBDA.
use_cargo_lambda() {
    ensure_venv "$root_dir/.venv-lambda" "cargo-lambda>=1.9.2,<2"
    export CARGO_LAMBDA="$root_dir/.venv-lambda/bin/cargo-lambda"
    export PATH="$root_dir/.venv-lambda/bin:$PATH"
}

# aws-sam-cli and cfn-lint; SAM_VENV names their venv (default .venv-sam).
use_sam() {
    SAM_VENV="${SAM_VENV:-$root_dir/.venv-sam}"
    ensure_venv "$SAM_VENV" "aws-sam-cli>=1.170,<2" "cfn-lint>=1.58,<2"
    export PATH="$PATH:$SAM_VENV/bin"
}

# The AWS CLI (for scripts/smoke-deployed's emulator test): the `aws` on PATH, else the AWS CLI
# v1 from PyPI in .venv-awscli; exports AWS_CLI.
use_awscli() {
    if command -v aws >/dev/null; then
        AWS_CLI="$(command -v aws)"
    else
        ensure_venv "$root_dir/.venv-awscli" "awscli>=1.36,<2"
        AWS_CLI="$root_dir/.venv-awscli/bin/aws"
    fi
    export AWS_CLI
}
