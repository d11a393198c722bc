#!/usr/bin/env bash
# codeswarm-check.sh: gate a change with `codeswarm check`, the one script the CI templates in
# docs/ci/ call (GitHub Actions, GitLab CI, the pre-commit hook).
#
# It produces the change's diff, runs `codeswarm check` on it with --junit and --summary, and
# leaves in the output directory:
#   change.patch  the diff that was judged        junit.xml   the JUnit report (for dashboards)
#   summary.md    the Markdown summary            output.txt  what `check` printed
# Under GitHub Actions (GITHUB_ACTIONS=true) `check` runs with --format github: annotations on
# the diff, and the summary appended to $GITHUB_STEP_SUMMARY.
#
# Usage:
#   codeswarm-check.sh [--repo DIR] --base REV [--head REV]   the change from BASE to HEAD
#                                                             (a pull request: from their merge base)
#   codeswarm-check.sh [--repo DIR] --patch FILE [--base REV] a diff made earlier (base: HEAD)
#   codeswarm-check.sh [--repo DIR] --staged                  what `git commit` would record
#   options: --tests NODEIDS (comma-separated, repeatable), --tests-from FILE, --out DIR
#            (default: codeswarm-check), and after `--`, more `codeswarm check` options
#            (--requirements FILE, --env owner/name, --allow-not-runnable, …).
# Environment: CODESWARM (the binary; default `codeswarm`), CODESWARM_CHECK_FORMAT (human,
# github or json; default github under GitHub Actions, human elsewhere).
#
# Exit: 0 the change passes (or there is no change), 1 it fails, 2 the gate could not judge
# (bad arguments, unknown revisions, no sandbox runtime).
set -euo pipefail

usage() {
    sed -n '/^# Usage:/,/^# Exit:/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "codeswarm-check.sh: $*" >&2
    exit 2
}

repo=. base= head= patch= staged=0 out=codeswarm-check
tests=() extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --repo) repo=${2:?--repo needs a directory}; shift 2 ;;
        --base) base=${2:?--base needs a revision}; shift 2 ;;
        --head) head=${2:?--head needs a revision}; shift 2 ;;
        --patch) patch=${2:?--patch needs a file}; shift 2 ;;
        --staged) staged=1; shift ;;
        --tests) tests+=(--tests "${2:?--tests needs node ids}"); shift 2 ;;
        --tests-from) tests+=(--tests-from "${2:?--tests-from needs a file}"); shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) usage ;;
        *) echo "codeswarm-check.sh: unknown argument \`$1\`" >&2; usage ;;
    esac
done

cs=${CODESWARM:-codeswarm}
command -v "$cs" >/dev/null 2>&1 || die "\`$cs\` not found: build codeswarm (scripts/setup.sh) or set CODESWARM to the binary"
git -C "$repo" rev-parse --git-dir >/dev/null 2>&1 || die "--repo $repo is not a git repository"
mkdir -p "$out" || die "cannot create --out $out"
out=$(cd "$out" && pwd)
rm -f "$out/change.patch" "$out/junit.xml" "$out/summary.md" "$out/output.txt"

commit_of() {
    git -C "$repo" rev-parse --verify --quiet "$1^{commit}" ||
        die "$2 $1 is not a commit of $repo (fetch it: actions/checkout needs fetch-depth: 0)"
}

# The diff: plain text, no renames (every path spelled out), no colour or external diff tools.
diff_args=(-c core.quotepath=false diff --no-color --no-ext-diff --no-renames --full-index)
modes=$(( staged + (${#patch} > 0 ? 1 : 0) + (${#head} > 0 ? 1 : 0) ))
[ "$modes" -le 1 ] || die "give one of --head, --patch and --staged"
if [ "$staged" = 1 ]; then
    [ -z "$base" ] || die "--staged judges the index against HEAD; leave out --base"
    base=$(commit_of HEAD HEAD)
    git -C "$repo" "${diff_args[@]}" --cached "$base" >"$out/change.patch"
elif [ -n "$patch" ]; then
    [ -f "$patch" ] || die "--patch $patch is not a file"
    base=$(commit_of "${base:-HEAD}" --base)
    cp "$patch" "$out/change.patch"
else
    [ -n "$base" ] || die "give --base REV (with --head REV, default HEAD), --patch FILE or --staged"
    base_sha=$(commit_of "$base" --base)
    head_sha=$(commit_of "${head:-HEAD}" --head)
    # A pull request's change is what its head adds to the merge base, as GitHub shows it.
    base=$(git -C "$repo" merge-base "$base_sha" "$head_sha") ||
        die "--base $base and --head ${head:-HEAD} have no common ancestor"
    git -C "$repo" "${diff_args[@]}" "$base" "$head_sha" >"$out/change.patch"
fi

format=${CODESWARM_CHECK_FORMAT:-}
if [ -z "$format" ]; then
    if [ "${GITHUB_ACTIONS:-}" = true ]; then format=github; else format=human; fi
fi

summary_to_ci() {
    # What `check` could not write itself goes to the job summary too.
    if [ "$format" = github ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
        cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
    fi
}

if [ ! -s "$out/change.patch" ]; then
    printf '## codeswarm check: no change\n\nThe diff against `%s` is empty: nothing to judge.\n' \
        "${base:0:12}" >"$out/summary.md"
    echo "codeswarm check: no change against ${base:0:12}, nothing to judge"
    summary_to_ci
    exit 0
fi

set +e
"$cs" check --repo "$repo" --base "$base" --patch "$out/change.patch" "${tests[@]}" \
    --junit "$out/junit.xml" --summary "$out/summary.md" --format "$format" \
    "${extra[@]}" >"$out/output.txt" 2>&1
rc=$?
set -e
cat "$out/output.txt"
if [ "$rc" -ge 2 ] || [ ! -s "$out/summary.md" ]; then
    {
        printf '## codeswarm check: could not judge (exit %s)\n\n```\n' "$rc"
        tail -n 20 "$out/output.txt" | sed 's/```/` ` `/g'
        printf '```\n'
    } >"$out/summary.md"
    summary_to_ci
    [ "$rc" -ge 2 ] || rc=2
fi
exit "$rc"
