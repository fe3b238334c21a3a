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
#   INPUT_APPLY_TIMEOUT_MINUTES  the apply job's timeout-minutes: the plan estimates the apply's
#                    duration and warns (an annotation) when it does not fit
#   INPUT_REVIEWED   apply: auto (default) | required | none. auto (on a push) / required: when
#                    the commit was merged from a pull request, apply what that pull request's
#                    plan showed (its review record) and HR drift since only within the safety
#                    limits; required also fails without such a pull request; none, and auto on
#                    any other event (a schedule): plan and apply within the limits
#   INPUT_UPLOAD_FULL_PLAN  true: also leave the full (unmasked) plan for an artifact
#   INPUT_COMMIT_FILE_TARGET  apply: true (default) commits what the apply changed inside the
#                    configuration directory (a `file` target there, as `orgsync init` writes
#                    one) and pushes it, so the next fresh checkout sees the state the apply
#                    records name; a target outside the repository changes nothing there
#   ORGSYNC_GITHUB_TOKEN  token for the comment; never printed (masked with ::add-mask::)
#   ORGSYNC_COMMENT_DELAY seconds between the comment writes of a plan in several parts (default
#                    1, as GitHub asks of content-creating requests)
#   ORGSYNC_BIN      the orgsync binary (default: orgsync on the PATH)
#   ORGSYNC_PUSH_NOTES    false: keep the apply records (refs/notes/orgsync) and the apply lease
#                    in the runner's clone (ORGSYNC_REMOTE=none for orgsync); by default orgsync
#                    fetches and pushes them on the repository's remote itself
# and GitHub's own: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_SERVER_URL,
# GITHUB_RUN_ID, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_TEMP.
#
# Exit code: 0 when the step passes, 1 when the configuration is invalid, the plan unsafe, or the
# apply failed. The artifact directory (`artifact-dir` output) holds the masked plan and the
# review record: no names, no addresses. The full plan is at `plan-file`, for `apply PLANFILE`
# on the same runner, and is uploaded only when asked (`upload-full-plan`).
set -uo pipefail

command=${INPUT_COMMAND:-plan}
config=${INPUT_CONFIG:-.}
base_ref=${INPUT_BASE_REF:-}
show_pii=${INPUT_SHOW_PII:-false}
extra_args=${INPUT_ARGS:-}
reviewed=${INPUT_REVIEWED:-auto}
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
case "$reviewed" in
  auto | required | none) ;;
  *)
    echo "::error::orgsync action: reviewed must be auto, required or none, not '$reviewed'"
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
# The whole Markdown plan in parts, each within a comment (orgsync plan --markdown-parts).
parts_dir="$work/parts"
log="$work/orgsync.log"
artifact="$work/artifact"
masked_file="$artifact/plan.masked.json"
review_file="$artifact/review.json"
validate_json="$work/validate.json"
report_file="$work/apply-report.json"
rm -rf "$plan_file" "$plan_md" "$parts_dir" "$log" "$artifact" "$validate_json" "$report_file"
mkdir -p "$artifact"
# The configuration directory as the repository names it, for annotations on the PR diff.
repo_root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
config_in_repo=$(realpath -m --relative-to="$repo_root" "$config" 2>/dev/null || printf '%s' "$config")
export ORGSYNC_CONFIG_IN_REPO="$config_in_repo"

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

def read_parts(parts_dir):
    """The Markdown plan in parts (part-001.md, …), each within a comment."""
    names = sorted(n for n in os.listdir(parts_dir) if n.startswith("part-") and n.endswith(".md"))
    return [open(os.path.join(parts_dir, n), encoding="utf-8").read() for n in names] or [""]

def summary(parts_dir, out_path):
    """The whole plan in the step summary when it fits GitHub's limit (in bytes); otherwise as
    many whole parts as fit, and where the rest is: every part is a comment on the pull request,
    and the artifact holds the whole plan (plan.md)."""
    limit = int(os.environ["ORGSYNC_SUMMARY_LIMIT"])
    parts = read_parts(parts_dir)
    size = lambda t: len(t.encode("utf-8")) + 1
    if sum(size(p) for p in parts) <= limit:
        text = "\n".join(parts)
    else:
        run = os.environ.get("ORGSYNC_RUN_URL", "")
        where = f"[this run]({run})" if run else "this run"
        shown, used = [], 0
        def note(k):
            return (f"\n> ✂️ **The step summary ends here, after part {k} of {len(parts)}** "
                    f"(GitHub shows at most {limit:,} bytes of it). Parts {k + 1}–{len(parts)} "
                    f"follow in order as the orgsync comments on the pull request, and the whole "
                    f"masked plan is `plan.md` in the `orgsync-plan-{os.environ['ORGSYNC_SLUG']}` "
                    f"artifact of {where}.\n")
        for p in parts:
            if used + size(p) + size(note(len(shown) + 1)) > limit:
                break
            shown.append(p)
            used += size(p)
        if not shown:  # a part bigger than the summary (only with a tiny limit): cut it
            first, chars = parts[0], limit
            text = first
            while size(text) + size(note(1)) > limit and chars > 0:
                text = cut(first, chars, "")
                chars = chars * 9 // 10
            shown = [text]
        text = "\n".join(shown) + note(len(shown))
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

def escape_data(s):
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

def escape_property(s):
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")

def annotate(path):
    """One workflow command per located diagnostic (masked plan) or configuration error
    (`validate --format json`), with the file relative to the repository root: GitHub shows
    them on the pull request's diff."""
    try:
        data = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError):
        return
    base = os.environ.get("ORGSYNC_CONFIG_IN_REPO", ".")
    items = []
    if isinstance(data, dict) and "valid" in data:  # validate --format json
        for level, key in (("error", "errors"), ("warning", "warnings")):
            for e in data.get(key) or []:
                items.append((level, "invalid configuration" if level == "error" else "configuration",
                              e.get("file"), e.get("line"), e.get("column"), e.get("message", "") +
                              (f" (at {e['path']})" if e.get("path") else "") +
                              (f"; hint: {e['hint']}" if e.get("hint") else "")))
    else:
        for d in data.get("diagnostics") or []:
            loc = d.get("location") or {}
            level = {"error": "error", "warning": "warning"}.get(d.get("severity"), "notice")
            items.append((level, d.get("kind", "diagnostic"), loc.get("file"), loc.get("line"),
                          loc.get("column"), d.get("message", "") +
                          (f"; hint: {d['hint']}" if d.get("hint") else "")))
    for level, title, file, line, col, message in items:
        props = [f"title={escape_property('orgsync: ' + title)}"]
        if file:
            rel = os.path.normpath(os.path.join(base, file))
            props.insert(0, f"file={escape_property(rel)}")
            if line:
                props.insert(1, f"line={line}")
                if col:
                    props.insert(2, f"col={col}")
        print(f"::{level} {','.join(props)}::{escape_data(message)}")

def pull_request_number():
    event_path = os.environ.get("GITHUB_EVENT_PATH", "")
    if event_path and os.path.exists(event_path):
        event = json.load(open(event_path, encoding="utf-8"))
        number = (event.get("pull_request") or {}).get("number")
        if number is None and "pull_request" in (event.get("issue") or {}):
            number = event["issue"].get("number")
        return number
    return None

def find_comment(api_url, repo, number, token, marker):
    page = 1
    while True:
        batch = api("GET", f"{api_url}/repos/{repo}/issues/{number}/comments?per_page=100&page={page}", token)
        for c in batch or []:
            if marker in (c.get("body") or ""):
                return c
        if not batch or len(batch) < 100:
            return None
        page += 1

def download(url, token):
    """GET with the token sent to GitHub only: the artifact's redirect goes to blob storage,
    which must never see it."""
    req = urllib.request.Request(url)
    req.add_unredirected_header("Authorization", f"Bearer {token}")
    req.add_header("Accept", "application/vnd.github+json")
    req.add_header("User-Agent", "orgsync-action")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"::error::orgsync action: downloading the review artifact answered {e.code}")

def fetch_review(out_path, mode):
    """Apply on merge: the review record of the pull request this commit came from. Prints the
    pull request's number and the reviewed plan's digest, or nothing when the commit came from
    no pull request."""
    import io, re, zipfile
    token = os.environ.get("ORGSYNC_GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    sha = os.environ.get("GITHUB_SHA", "")
    if not token or not repo or not sha:
        if mode == "required":
            raise SystemExit("::error::orgsync action: reviewed: required needs github-token, GITHUB_REPOSITORY and GITHUB_SHA")
        return
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    pulls = api("GET", f"{api_url}/repos/{repo}/commits/{sha}/pulls", token) or []
    merged = [p for p in pulls if p.get("merged_at") and p.get("merge_commit_sha") == sha]
    if not merged:
        merged = [p for p in pulls if p.get("merged_at")]
    if not merged:
        if mode == "required":
            raise SystemExit(f"::error::orgsync action: commit {sha[:12]} was not merged from a pull request, and reviewed is required: nothing was applied")
        return
    number = merged[0]["number"]
    config = os.environ["ORGSYNC_CONFIG"]
    c = find_comment(api_url, repo, number, token, f"<!-- orgsync:plan:{config} -->")
    found = re.search(r"<!-- orgsync:review run=(\d+) artifact=(\S+) plan=(sha256:[0-9a-f]+) -->", (c or {}).get("body") or "")
    if not found:
        raise SystemExit(f"::error::orgsync action: pull request #{number} has no reviewed orgsync plan for `{config}` (no plan comment with a review record): nothing was applied. Run the plan workflow on pull requests, or apply with reviewed: none")
    run, name, digest = found.groups()
    listing = api("GET", f"{api_url}/repos/{repo}/actions/runs/{run}/artifacts?per_page=100&name={name}", token) or {}
    artifacts = [a for a in listing.get("artifacts", []) if a.get("name") == name and not a.get("expired")]
    if not artifacts:
        raise SystemExit(f"::error::orgsync action: the review artifact {name} of run {run} (pull request #{number}) is gone (expired or deleted): nothing was applied; re-run the plan, or apply with reviewed: none")
    data = download(artifacts[0]["archive_download_url"], token)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        record = z.read("review.json")
    if json.loads(record).get("plan") != digest:
        raise SystemExit(f"::error::orgsync action: the review artifact of run {run} is not the plan the comment on #{number} shows: nothing was applied")
    with open(out_path, "wb") as f:
        f.write(record)
    print(f"{number}\t{digest}")

def applied(report_path, number, rc):
    """The "Applied: …" comment on the merged pull request: counts only."""
    token = os.environ.get("ORGSYNC_GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    config = os.environ["ORGSYNC_CONFIG"]
    try:
        report = json.load(open(report_path, encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    words = lambda m: ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in m.items()) or "nothing"
    run = os.environ.get("ORGSYNC_RUN_URL", "")
    if report is None:
        text = f"**orgsync** · `{config}`: **apply failed before any change** (exit {rc}); see the workflow run."
    else:
        review = report.get("review") or {}
        drift = review.get("drift") or {}
        status = "Applied" if rc == "0" else ("Interrupted" if report.get("interrupted") else "Applied with failures")
        text = f"**orgsync** · `{config}`: **{status}:** {words(report.get('applied') or {})}"
        if report.get("failed"):
            text += f"; **failed:** {words(report['failed'])}"
        if report.get("not_attempted"):
            text += f"; not attempted: {words(report['not_attempted'])}"
        text += "."
        if review:
            text += f"\n\nReviewed plan `{review.get('plan', '?')}`: {review.get('reviewed', 0)} action(s) as reviewed"
            text += f"; arrived since the review (within the safety limits): {words(drift)}" if drift else "; nothing arrived since the review"
            if review.get("gone"):
                text += f"; {review['gone']} reviewed action(s) no longer needed"
            text += "."
    if run:
        text += f"\n\n<sub>[workflow run]({run})</sub>"
    body = f"<!-- orgsync:applied:{config} -->\n" + text + "\n"
    if token and repo and number:
        api("POST", f"{api_url}/repos/{repo}/issues/{number}/comments", token, {"body": body})
    print(text)

def list_comments(api_url, repo, number, token):
    out, page = [], 1
    while True:
        batch = api("GET", f"{api_url}/repos/{repo}/issues/{number}/comments?per_page=100&page={page}", token) or []
        out += batch
        if len(batch) < 100:
            return out
        page += 1

def comment(parts_dir):
    """One comment per part of the plan, updated in place on every run: part 1 carries the
    marker `<!-- orgsync:plan:<config> -->` (and the review record's), part N ≥ 2
    `<!-- orgsync:plan-part:<config>:N -->`; parts an earlier, longer plan left are deleted."""
    import re
    token = os.environ.get("ORGSYNC_GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    number = pull_request_number()
    if number is None:
        print("orgsync action: not a pull request, no comment")
        return
    if not token or not repo:
        print("::warning::orgsync action: no github-token, no pull-request comment")
        return
    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    config = os.environ["ORGSYNC_CONFIG"]
    marker = f"<!-- orgsync:plan:{config} -->"
    part_marker = re.compile(r"<!-- orgsync:plan-part:" + re.escape(config) + r":(\d+) -->")
    limit = int(os.environ["ORGSYNC_COMMENT_LIMIT"])
    parts = read_parts(parts_dir)
    n = len(parts)
    review = os.environ.get("ORGSYNC_REVIEW_MARKER", "")
    run = os.environ.get("ORGSYNC_RUN_URL", "")
    foot = f"\n\n<sub>[workflow run]({run})</sub>\n" if run else "\n"
    existing, surplus = {}, []
    for c in list_comments(api_url, repo, number, token):
        body = c.get("body") or ""
        if marker in body and 1 not in existing:
            existing[1] = c
            continue
        found = part_marker.search(body)
        if found:
            i = int(found.group(1))
            if 2 <= i <= n and i not in existing:
                existing[i] = c
            else:
                surplus.append(c)
    # GitHub asks for a second between content-creating requests (secondary rate limits).
    delay = float(os.environ.get("ORGSYNC_COMMENT_DELAY", "1"))
    writes = [0]
    def pace():
        writes[0] += 1
        if writes[0] > 1 and delay > 0:
            import time
            time.sleep(delay)
    for i, text in enumerate(parts, start=1):
        title = f"**orgsync** · `{config}`" + (f" · plan part {i} of {n}" if n > 1 else "")
        if i == 1:
            head = f"{marker}\n" + (f"{review}\n" if review else "") + f"{title}\n\n"
            more = (f"\n\n<sub>The plan continues in the next {n - 1} orgsync comment"
                    f"{'' if n == 2 else 's'} (part 2 to {n}).</sub>") if n > 1 else ""
        else:
            head = f"<!-- orgsync:plan-part:{config}:{i} -->\n{title} (continued)\n\n"
            more = ""
        room = limit - len(head) - len(foot) - len(more)
        body = head + cut(text, room, pointer(limit, len(text))) + more + foot
        assert len(body) <= limit, (len(body), limit)
        c = existing.get(i)
        if c is None:
            pace()
            made = api("POST", f"{api_url}/repos/{repo}/issues/{number}/comments", token, {"body": body})
            print(f"orgsync action: commented part {i} of {n} on #{number} (comment {made.get('id')})")
        elif i > 1 and c.get("body") == body:
            print(f"orgsync action: part {i} of {n} unchanged (comment {c['id']})")
        else:
            pace()
            api("PATCH", f"{api_url}/repos/{repo}/issues/comments/{c['id']}", token, {"body": body})
            print(f"orgsync action: updated part {i} of {n}, comment {c['id']} on #{number}")
    for c in surplus:
        pace()
        api("DELETE", f"{api_url}/repos/{repo}/issues/comments/{c['id']}", token)
        print(f"orgsync action: deleted comment {c['id']}, a part of an earlier, longer plan")

what = sys.argv[1]
if what == "facts":
    total, safe, words = plan_facts(sys.argv[2])
    print(f"{'true' if total else 'false'}\t{'true' if safe else 'false'}\t{words}")
elif what == "summary":
    summary(sys.argv[2], sys.argv[3])
elif what == "comment":
    comment(sys.argv[2])
elif what == "annotate":
    annotate(sys.argv[2])
elif what == "fetch-review":
    fetch_review(sys.argv[2], sys.argv[3])
elif what == "applied":
    applied(sys.argv[2], sys.argv[3], sys.argv[4])
PY
}

report() { # parts directory: step summary + PR comments (one per part)
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
  rm -rf "$parts_dir"
  mkdir -p "$parts_dir"
  cp "$plan_md" "$parts_dir/part-001.md"
}

last_part() { # the last part of the Markdown plan
  find "$parts_dir" -name 'part-*.md' 2>/dev/null | sort | tail -1
}

cd_args=(-C "$config")

# Annotations for an invalid configuration: `validate --format json` is offline and cheap.
annotate_invalid() {
  "$orgsync" validate "${cd_args[@]}" --format json >"$validate_json" 2>/dev/null
  helper annotate "$validate_json"
}

if [ "$command" = validate ]; then
  "$orgsync" validate "${cd_args[@]}" "${extra[@]}" >"$log" 2>&1
  rc=$?
  cat "$log"
  output has-changes false
  output plan-file ""
  output artifact-dir ""
  if [ $rc -ne 0 ]; then
    annotate_invalid
    failure_md "the configuration is invalid"
    report "$parts_dir"
    output safe false
    output summary "invalid configuration"
    echo "::error::orgsync: the configuration in $config is invalid"
    exit 1
  fi
  output safe true
  output summary "valid"
  exit 0
fi

# plan (and apply): one plan; Markdown for people, the full JSON for apply on this runner, the
# masked JSON and the review record for the artifact.
# The parts leave room for the comment's marker, title and links (GitHub takes 65,536 characters).
part_chars=$((comment_limit - 1000))
plan_args=(plan "${cd_args[@]}" --format markdown --out "$plan_file" --masked-out "$masked_file"
  --markdown-parts "$parts_dir" --part-chars "$part_chars" --detailed-exitcode)
if [ "$command" = plan ] && [ -n "$base_ref" ]; then
  base="$base_ref"
  if git rev-parse --verify -q "origin/$base_ref^{commit}" >/dev/null 2>&1; then
    base="origin/$base_ref"
  fi
  plan_args+=(--base "$base")
fi
[ "$show_pii" = true ] && plan_args+=(--show-pii)
# The apply job's timeout: the plan shows the apply's estimated duration against it.
if [ -n "${INPUT_APPLY_TIMEOUT_MINUTES:-}" ]; then
  plan_args+=(--apply-timeout "$INPUT_APPLY_TIMEOUT_MINUTES")
fi
"$orgsync" "${plan_args[@]}" "${extra[@]}" >"$plan_md" 2>"$log"
rc=$?
cat "$log" >&2
[ -s "$masked_file" ] && helper annotate "$masked_file"
grep '^warning: the apply is estimated' "$log" | sed 's/^warning: /::warning title=orgsync%3A apply duration::/'

if [ ! -s "$plan_file" ]; then
  output plan-file ""
  output has-changes false
  output safe false
  if [ -s "$masked_file" ] && [ -n "$(last_part)" ]; then
    # A plan was made but it has errors: its Markdown lists them, and says it cannot be applied.
    output artifact-dir "$artifact"
    output summary "error: the plan has errors"
    {
      printf '\n> ⛔ **The plan has errors:** nothing can be applied until the diagnostics above are fixed.\n'
    } >>"$(last_part)"
    report "$parts_dir"
    echo "::error::orgsync: the plan for $config has errors (see the diagnostics)"
  else
    # No plan at all: the configuration is invalid or the data could not be read.
    output artifact-dir ""
    output summary "error: no plan"
    annotate_invalid
    failure_md "no plan (invalid configuration or unreadable data)"
    report "$parts_dir"
    echo "::error::orgsync: no plan for $config (see the messages above)"
  fi
  exit 1
fi

output plan-file "$plan_file"
output artifact-dir "$artifact"
"$orgsync" show "$plan_file" --review-record >"$review_file" || {
  echo "::error::orgsync: could not write the review record"
  exit 1
}
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plan"])' "$review_file")
output plan-digest "$digest"
# The whole masked Markdown plan in the artifact too: reviewable where no comment is (a push, a
# schedule), and beyond the step summary's limit.
if [ "$show_pii" != true ]; then
  cat "$parts_dir"/part-*.md >"$artifact/plan.md"
fi
IFS=$'\t' read -r has_changes safe words < <(helper facts "$plan_file")
output has-changes "$has_changes"
output safe "$safe"
output summary "$words"
echo "orgsync: $config: $words (safe: $safe; plan $digest)"

if [ "$command" = plan ]; then
  if [ -n "${GITHUB_RUN_ID:-}" ]; then
    # The apply on merge finds the review record through this marker: the run and the artifact.
    export ORGSYNC_REVIEW_MARKER="<!-- orgsync:review run=${GITHUB_RUN_ID} artifact=orgsync-plan-${slug} plan=${digest} -->"
  fi
  printf '\n<sub>Reviewed plan `%s`: on merge, orgsync applies this plan; HR changes that arrive before then are applied only within the safety limits, and listed apart.</sub>\n' "$digest" >>"$(last_part)"
  report "$parts_dir"
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

# apply: what the merged pull request's plan showed (review = apply), or — without a pull
# request — a safe plan; then share the apply record (git note) and say what was applied.
review_args=()
pr_number=""
# auto: only a push (a merge) has a pull request to hold to; a schedule or a manual run on the
# same commit applies HR changes within the limits.
if [ "$reviewed" = auto ] && [ -n "${GITHUB_EVENT_NAME:-}" ] && [ "${GITHUB_EVENT_NAME}" != push ]; then
  reviewed=none
fi
if [ "$reviewed" != none ]; then
  found=$(helper fetch-review "$work/reviewed.json" "$reviewed") || exit 1
  if [ -n "$found" ]; then
    IFS=$'\t' read -r pr_number reviewed_digest <<<"$found"
    review_args=(--reviewed "$work/reviewed.json")
    echo "orgsync: applying the plan reviewed in pull request #$pr_number ($reviewed_digest)"
  fi
fi
ORGSYNC_COMMENT=false report "$parts_dir"
if [ "$safe" != true ]; then
  echo "::error::orgsync: the plan for $config is unsafe (over the safety limits): not applied"
  exit 1
fi
if [ "$has_changes" != true ]; then
  echo "orgsync: nothing to apply"
  [ -n "$pr_number" ] && printf '{"applied":{},"failed":{},"interrupted":false,"not_attempted":{},"review":null}\n' >"$report_file" &&
    helper applied "$report_file" "$pr_number" 0 >/dev/null
  exit 0
fi
# orgsync fetches the apply records from the remote, takes the apply lease there, and pushes the
# records it writes (a started record before, the outcome after).
if [ "${ORGSYNC_PUSH_NOTES:-true}" != true ]; then
  export ORGSYNC_REMOTE=none
fi
# What the checkout had changed in the configuration directory before the apply: only what the
# apply adds to that is committed back.
dirty_before=$(git status --porcelain --untracked-files=all -- "$config" 2>/dev/null)
if [ ${#review_args[@]} -gt 0 ]; then
  # The review record ties the apply to the pull request: orgsync plans now and applies it only
  # when the configuration is the reviewed one and the drift since stays within the limits.
  "$orgsync" apply "${cd_args[@]}" "${review_args[@]}" --report "$report_file" "${extra[@]}" >"$log" 2>&1
else
  "$orgsync" apply "$plan_file" "${cd_args[@]}" --report "$report_file" "${extra[@]}" >"$log" 2>&1
fi
rc=$?
cat "$log"
applied_line=$(helper applied "$report_file" "$pr_number" "$rc" 2>/dev/null | head -1)
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  if [ $rc -eq 0 ]; then
    printf '\n%s\n' "${applied_line:-**Applied:** $words.}" >>"$GITHUB_STEP_SUMMARY"
  else
    printf '\n**Apply failed** (exit %s): %s\n' "$rc" "${applied_line:-see the job log.}" >>"$GITHUB_STEP_SUMMARY"
  fi
fi
# A `file` target inside the repository is state in git: commit what the apply wrote, also
# after a partial apply (the records name what was done), so that the next fresh checkout plans
# on it rather than on the file before the apply.
commit_file_target() {
  [ "${INPUT_COMMIT_FILE_TARGET:-true}" = true ] || return 0
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
  if [ -n "$dirty_before" ]; then
    echo "::warning::orgsync action: $config had uncommitted changes before the apply; nothing is committed back"
    return 0
  fi
  local changed=()
  while IFS= read -r path; do
    case "$path" in
      *.lock | */.orgsync-*.tmp | .orgsync-*.tmp) ;;
      *) changed+=("$path") ;;
    esac
  done < <(git status --porcelain --untracked-files=all -z -- "$config" | tr '\0' '\n' | sed -n 's/^.. //p')
  [ ${#changed[@]} -gt 0 ] || return 0
  local branch=${GITHUB_REF_NAME:-}
  [ -n "$branch" ] || branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null)
  if [ -z "$branch" ] || [ "$branch" = HEAD ]; then
    echo "::error::orgsync action: the apply changed ${changed[*]}, but the checkout is on no branch to commit it to"
    return 1
  fi
  git add -- "${changed[@]}" &&
    git commit -q -m "orgsync: the file target after the apply of $(git rev-parse --short HEAD) [skip ci]" -- "${changed[@]}" || {
    echo "::error::orgsync action: could not commit ${changed[*]} (set a git identity, as the example workflows do)"
    return 1
  }
  local remote
  remote=$(git remote | head -1)
  if [ -z "$remote" ] || [ "${ORGSYNC_PUSH_NOTES:-true}" != true ]; then
    echo "orgsync: committed ${changed[*]} (not pushed: no remote)"
    return 0
  fi
  # Another commit may have landed on the branch meanwhile: rebase onto it once.
  if ! git push -q "$remote" "HEAD:refs/heads/$branch" 2>"$work/push.log"; then
    git pull -q --rebase "$remote" "$branch" >>"$work/push.log" 2>&1 &&
      git push -q "$remote" "HEAD:refs/heads/$branch" 2>>"$work/push.log" || {
      cat "$work/push.log" >&2
      echo "::error::orgsync action: could not push ${changed[*]} to $branch: the next run would plan on the file before this apply (contents: write, and a branch rule that lets the workflow push)"
      return 1
    }
  fi
  echo "orgsync: committed and pushed ${changed[*]} to $branch"
}
commit_file_target || rc=${rc/#0/1}
if [ $rc -ne 0 ]; then
  echo "::error::orgsync apply failed (exit $rc)"
  exit 1
fi
