#!/usr/bin/env bash
# The logic of the orgsync GitHub Action (action.yml calls it; tests/cli/action.rs runs it locally
# against a fake GitHub REST API). Runs `orgsync validate|plan|apply`, writes the Markdown plan to
# the step summary, upserts ONE pull-request comment per configuration directory (found by a hidden
# marker), sets the step outputs and fails when the configuration is invalid or the plan unsafe.
#
# Inputs come from the environment, as action.yml passes them:
#   INPUT_COMMAND    validate | plan | apply (default plan)
#   INPUT_CONFIG     the configuration directory (default .)
#   INPUT_BASE_REF   pull-request mode: plan what the PR changes against this ref (a branch name is
#                    tried as origin/NAME first); empty: a plain plan
#   INPUT_SHOW_PII   true: names and e-mail addresses in the Markdown (default false)
#   INPUT_ARGS       extra arguments for orgsync (split on whitespace)
#   ORGSYNC_GITHUB_TOKEN  token for the comment; never printed (masked with ::add-mask::)
#   ORGSYNC_BIN      the orgsync binary (default: orgsync on the PATH)
#   ORGSYNC_PUSH_NOTES    false: do not push refs/notes/orgsync after an apply (default true)
# and GitHub's own: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SERVER_URL,
# GITHUB_RUN_ID, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_TEMP.
#
# Exit code: 0 when the step passes, 1 when the configuration is invalid, the plan unsafe, or the
# apply failed. The JSON plan is left at the `plan-file` output for the artifact upload.
set -uo pipefail

command=${INPUT_COMMAND:-plan}
config=${INPUT_CONFIG:-.}
base_ref=${INPUT_BASE_REF:-}
show_pii=${INPUT_SHOW_PII:-false}
extra_args=${INPUT_ARGS:-}
orgsync=${ORGSYNC_BIN:-orgsync}
token=${ORGSYNC_GITHUB_TOKEN:-}
# Limits: GitHub rejects comments over 65,536 characters and truncates step summaries over 1 MiB.
comment_limit=${ORGSYNC_COMMENT_LIMIT:-65536}
summary_limit=${ORGSYNC_SUMMARY_LIMIT:-1048576}

# The token is masked by action.yml's first step (`::add-mask::`); this script never prints it, so
# it stays out of logs that are not masked too (a local run, the tests). Nothing below sees it but
# the comment helper, which reads it from the environment.
export ORGSYNC_GITHUB_TOKEN="$token"
unset GITHUB_TOKEN GH_TOKEN INPUT_GITHUB_TOKEN

case "$command" in
  validate | plan | apply) ;;
  *)
    echo "::error::orgsync action: command must be validate, plan or apply, not '$command'"
    exit 1
    ;;
esac

# A name for files and markers that is the same for one configuration directory on every run.
slug=$(printf '%s' "$config" | sed -e 's#^\./##' -e 's#/*$##' -e 's#[^A-Za-z0-9._-]#-#g')
[ -n "$slug" ] || slug=root
[ "$slug" = "." ] && slug=root
work="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/orgsync-$slug"
mkdir -p "$work"
plan_file="$work/plan.json"
plan_md="$work/plan.md"
log="$work/orgsync.log"
rm -f "$plan_file" "$plan_md" "$log"

read -r -a extra <<<"$extra_args"

output() { # name value (single line)
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

run_url=""
if [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
  run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}"
fi
# The marker names the directory as written, normalised: `./config/` and `config` share a comment.
marker_dir=$(printf '%s' "$config" | sed -e 's#^\./##' -e 's#/*$##')
[ -n "$marker_dir" ] || marker_dir=.
export ORGSYNC_RUN_URL="$run_url" ORGSYNC_SLUG="$slug" ORGSYNC_CONFIG="$marker_dir"
export ORGSYNC_COMMENT_LIMIT="$comment_limit" ORGSYNC_SUMMARY_LIMIT="$summary_limit"

# The helper for everything JSON and HTTP: python3 (every GitHub runner has it), standard library only.
helper() {
  python3 - "$@" <<'PY'
import json, os, sys, urllib.error, urllib.request

def plan_facts(path):
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    counts = {k: v for k, v in (plan.get("summary") or {}).items() if v}
    total = sum(counts.values())
    safe = bool((plan.get("safety") or {}).get("safe", False))
    words = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) or "no changes"
    return total, safe, words

def cut(text, limit, pointer):
    """text, or its first lines cut to fit `limit` characters with `pointer` appended."""
    if len(text) <= limit:
        return text
    budget = limit - len(pointer) - 200
    kept = text[:max(budget, 0)]
    nl = kept.rfind("\n")
    if nl > 0:
        kept = kept[:nl]
    # Close what the cut left open, so the rest of the comment renders.
    closing = ""
    if kept.count("```") % 2:
        closing += "\n```"
    closing += "\n</details>" * max(kept.count("<details>") - kept.count("</details>"), 0)
    return kept + closing + "\n\n" + pointer

def pointer(shown_limit, total):
    run = os.environ.get("ORGSYNC_RUN_URL", "")
    where = f"[the workflow run]({run})" if run else "the workflow run"
    return (f"> ✂️ **The plan is cut here** to fit GitHub's limit ({total:,} characters in all). "
            f"The full plan is in the step summary and in the `orgsync-plan-{os.environ['ORGSYNC_SLUG']}` "
            f"artifact (JSON) of {where}.\n")

def summary(md_path, out_path):
    limit = int(os.environ["ORGSYNC_SUMMARY_LIMIT"])
    text = open(md_path, encoding="utf-8").read()
    # The step-summary limit is in bytes: cut by characters until the bytes fit.
    if len(text.encode("utf-8")) > limit:
        full, chars = text, limit
        while len(text.encode("utf-8")) >= limit:  # and the newline after it
            text = cut(full, chars, pointer(limit, len(full)))
            chars = chars * 9 // 10
    with open(out_path, "a", encoding="utf-8") as f:
        f.write(text + "\n")

def api(method, url, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/vnd.github+json")
    req.add_header("X-GitHub-Api-Version", "2022-11-28")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("User-Agent", "orgsync-action")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        # The message only: never the request (its headers hold the token).
        raise SystemExit(f"::error::orgsync action: GitHub API {method} {url} answered {e.code}")

def comment(md_path):
    token = os.environ.get("ORGSYNC_GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    event_path = os.environ.get("GITHUB_EVENT_PATH", "")
    number = None
    if event_path and os.path.exists(event_path):
        event = json.load(open(event_path, encoding="utf-8"))
        number = (event.get("pull_request") or {}).get("number")
        if number is None and "pull_request" in (event.get("issue") or {}):
            number = event["issue"].get("number")
    if number is None:
        print("orgsync action: not a pull request, no comment")
        return
    if not token or not repo:
        print("::warning::orgsync action: no github-token, no pull-request comment")
        return
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    config = os.environ["ORGSYNC_CONFIG"]
    marker = f"<!-- orgsync:plan:{config} -->"
    limit = int(os.environ["ORGSYNC_COMMENT_LIMIT"])
    text = open(md_path, encoding="utf-8").read()
    head = f"{marker}\n**orgsync** · `{config}`\n\n"
    run = os.environ.get("ORGSYNC_RUN_URL", "")
    foot = f"\n\n<sub>[workflow run]({run})</sub>\n" if run else "\n"
    room = limit - len(head) - len(foot)
    body = head + cut(text, room, pointer(limit, len(text))) + foot
    assert len(body) <= limit, (len(body), limit)
    existing = None
    page = 1
    while existing is None:
        batch = api("GET", f"{api_url}/repos/{repo}/issues/{number}/comments?per_page=100&page={page}", token)
        for c in batch or []:
            if marker in (c.get("body") or ""):
                existing = c["id"]
                break
        if not batch or len(batch) < 100:
            break
        page += 1
    if existing is None:
        c = api("POST", f"{api_url}/repos/{repo}/issues/{number}/comments", token, {"body": body})
        print(f"orgsync action: commented on #{number} (comment {c.get('id')})")
    else:
        api("PATCH", f"{api_url}/repos/{repo}/issues/comments/{existing}", token, {"body": body})
        print(f"orgsync action: updated comment {existing} on #{number}")

what = sys.argv[1]
if what == "facts":
    total, safe, words = plan_facts(sys.argv[2])
    print(f"{'true' if total else 'false'}\t{'true' if safe else 'false'}\t{words}")
elif what == "summary":
    summary(sys.argv[2], sys.argv[3])
elif what == "comment":
    comment(sys.argv[2])
PY
}

report() { # markdown file: step summary + PR comment
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    helper summary "$1" "$GITHUB_STEP_SUMMARY" || echo "::warning::orgsync action: could not write the step summary"
  fi
  if [ "${ORGSYNC_COMMENT:-true}" = true ]; then
    helper comment "$1" || echo "::warning::orgsync action: could not comment on the pull request"
  fi
}

failure_md() { # title: a Markdown report of a failed run, with orgsync's own messages
  {
    printf '## orgsync %s: %s\n\n' "$command" "$1"
    printf '```text\n'
    # Messages only: orgsync never prints secrets; mask them anyway if one leaked into the log.
    if [ -n "$token" ]; then sed "s|$token|***|g" "$log"; else cat "$log"; fi
    printf '```\n'
  } >"$plan_md"
}

cd_args=(-C "$config")

if [ "$command" = validate ]; then
  "$orgsync" validate "${cd_args[@]}" "${extra[@]}" >"$log" 2>&1
  rc=$?
  cat "$log"
  output has-changes false
  output plan-file ""
  if [ $rc -ne 0 ]; then
    failure_md "the configuration is invalid"
    report "$plan_md"
    output safe false
    output summary "invalid configuration"
    echo "::error::orgsync: the configuration in $config is invalid"
    exit 1
  fi
  output safe true
  output summary "valid"
  exit 0
fi

# plan (and apply): one plan, Markdown for people, JSON for the artifact and the outputs.
plan_args=(plan "${cd_args[@]}" --format markdown --out "$plan_file" --detailed-exitcode)
if [ "$command" = plan ] && [ -n "$base_ref" ]; then
  base="$base_ref"
  if git rev-parse --verify -q "origin/$base_ref^{commit}" >/dev/null 2>&1; then
    base="origin/$base_ref"
  fi
  plan_args+=(--base "$base")
fi
[ "$show_pii" = true ] && plan_args+=(--show-pii)
"$orgsync" "${plan_args[@]}" "${extra[@]}" >"$plan_md" 2>"$log"
rc=$?
cat "$log" >&2

if [ ! -s "$plan_file" ]; then
  # No plan at all: the configuration is invalid or the data could not be read.
  failure_md "no plan (invalid configuration or unreadable data)"
  report "$plan_md"
  output plan-file ""
  output has-changes false
  output safe false
  output summary "error: no plan"
  echo "::error::orgsync: no plan for $config (see the messages above)"
  exit 1
fi

output plan-file "$plan_file"
IFS=$'\t' read -r has_changes safe words < <(helper facts "$plan_file")
output has-changes "$has_changes"
output safe "$safe"
output summary "$words"
echo "orgsync: $config: $words (safe: $safe)"

if [ "$command" = plan ]; then
  report "$plan_md"
  if [ "$safe" != true ]; then
    echo "::error::orgsync: the plan for $config is unsafe (over the safety limits); apply will refuse it"
    exit 1
  fi
  # --detailed-exitcode: 0 no changes, 2 changes, 3 unsafe (handled above from the plan file),
  # anything else is a failure.
  case $rc in
    0 | 2 | 3) ;;
    *)
      echo "::error::orgsync plan failed (exit $rc)"
      exit 1
      ;;
  esac
  exit 0
fi

# apply: only a safe plan with changes, then share the apply record (git note).
ORGSYNC_COMMENT=false report "$plan_md"
if [ "$safe" != true ]; then
  echo "::error::orgsync: the plan for $config is unsafe (over the safety limits): not applied"
  exit 1
fi
if [ "$has_changes" != true ]; then
  echo "orgsync: nothing to apply"
  exit 0
fi
git fetch -q origin refs/notes/orgsync:refs/notes/orgsync >/dev/null 2>&1 || true
"$orgsync" apply "$plan_file" "${cd_args[@]}" --auto-approve "${extra[@]}" >"$log" 2>&1
rc=$?
cat "$log"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  if [ $rc -eq 0 ]; then
    printf '\n**Applied:** %s.\n' "$words" >>"$GITHUB_STEP_SUMMARY"
  else
    printf '\n**Apply failed** (exit %s): see the job log.\n' "$rc" >>"$GITHUB_STEP_SUMMARY"
  fi
fi
if [ "${ORGSYNC_PUSH_NOTES:-true}" = true ] && git rev-parse -q --verify refs/notes/orgsync >/dev/null 2>&1; then
  if ! git push -q origin refs/notes/orgsync; then
    # Someone else pushed notes meanwhile: merge theirs (records are lines) and try once more.
    git fetch -q origin refs/notes/orgsync:refs/notes/orgsync-remote &&
      git notes --ref orgsync merge -q -s cat_sort_uniq refs/notes/orgsync-remote &&
      git push -q origin refs/notes/orgsync ||
      echo "::warning::orgsync: could not push the apply records (refs/notes/orgsync)"
  fi
fi
if [ $rc -ne 0 ]; then
  echo "::error::orgsync apply failed (exit $rc)"
  exit 1
fi
