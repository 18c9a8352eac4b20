"""Reads and access checks for study groups: every group view gets its objects through these."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Sum,
)
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from course.catalogue import catalogue
from course.charts import HBarChart, hbar_chart
from course.models import (
    Exercise,
    ExerciseProgress,
    GroupMembership,
    GroupPost,
    GroupScheduleEntry,
    GroupThread,
    HelpfulMark,
    Lesson,
    Module,
    StudyGroup,
    ThreadSubscription,
    Track,
    User,
)
from course.selectors import can_teach, solved_exercise_ids
from course.selectors_progress import exercise_credit, week_start

AnyUser = User | AnonymousUser

SOLVED = "solved"
ATTEMPTED = "attempted"
NOT_STARTED = "not-started"

# --- Access: one helper per object kind --------------------------------------------------------


class GroupAccess(NamedTuple):
    group: StudyGroup
    # None for an instructor outside the group (teach=True) or an outsider of a listed group
    # (listed=True).
    membership: GroupMembership | None


def _membership(*, group_id: int, user: AnyUser) -> GroupMembership | None:
    if not user.is_authenticated:
        return None
    return (
        GroupMembership.objects.select_related("group__track")
        .filter(group_id=group_id, user=user)
        .first()
    )


def access_group(
    user: AnyUser,
    group_id: int,
    *,
    write: bool = False,
    teach: bool = False,
    listed: bool = False,
) -> GroupAccess:
    """Return the group and the user's membership if the user may do what is asked, else raise.

    By default members may read it. `write=True` asks for one of its facilitators (other members
    get PermissionDenied); `teach=True` also lets instructors in who are not members (the progress
    table); `listed=True` lets anyone see a listed group's page without joining. Outsiders of a
    private group get 404, as if it did not exist; of a listed group, PermissionDenied.
    """
    membership = _membership(group_id=group_id, user=user)
    if membership is not None and (membership.is_facilitator or not write):
        return GroupAccess(membership.group, membership)
    if teach and can_teach(user):
        group = StudyGroup.objects.select_related("track").filter(pk=group_id).first()
        if group is None:
            raise Http404("No such group.")
        return GroupAccess(group, membership)
    if membership is not None:
        raise PermissionDenied("Only the group's facilitators can do that.")
    group = StudyGroup.objects.select_related("track").filter(pk=group_id).first()
    if group is None or not group.is_listed:
        raise Http404("No such group.")
    if listed:
        return GroupAccess(group, None)
    raise PermissionDenied("Join this group to see it.")


def access_group_by_invite(user: AnyUser, code: str) -> GroupAccess:
    """Return the group an invite code opens, with the user's membership if any, or raise 404.

    Codes rotate, so old links die; a valid code lets anyone logged in see the group and join.
    """
    typed = "".join(ch for ch in code.lower() if ch.isalnum())
    # Codes are lower case in two groups of five ("k3m9p-x2qzt"); a code read aloud or typed on a
    # phone may come in capitals, without its dash or with spaces. Older codes match as they are.
    canonical = f"{typed[:5]}-{typed[5:]}" if len(typed) == 10 else code
    group = (
        StudyGroup.objects.select_related("track")
        .filter(invite_code__in=sorted({code, canonical}))
        .first()
    )
    if group is None:
        raise Http404("This invite is not valid any more. Ask the group for a new link.")
    return GroupAccess(group, _membership(group_id=group.pk, user=user))


def thread_get(*, group: StudyGroup, thread_id: int) -> GroupThread:
    """Return a thread of the group (reached through access_group), or raise 404."""
    thread = (
        GroupThread.objects.select_related("author", "lesson__module", "exercise")
        .filter(pk=thread_id, group_id=group.pk)
        .first()
    )
    if thread is None:
        raise Http404("No such thread.")
    return thread


def post_get(*, group: StudyGroup, post_id: int) -> GroupPost:
    """Return a post in one of the group's threads, or raise 404."""
    post = (
        GroupPost.objects.select_related("thread")
        .filter(pk=post_id, thread__group_id=group.pk)
        .first()
    )
    if post is None:
        raise Http404("No such post.")
    return post


def member_get(*, group: StudyGroup, user_id: int) -> GroupMembership:
    """Return a membership of the group by its user, or raise 404.

    Users outside the group get the same 404 as ids nobody has, so the page cannot probe accounts.
    """
    member = (
        GroupMembership.objects.select_related("user")
        .filter(group_id=group.pk, user_id=user_id)
        .first()
    )
    if member is None:
        raise Http404("No such member.")
    return member


def schedule_entry_get(*, group: StudyGroup, entry_id: int) -> GroupScheduleEntry:
    """Return a schedule entry of the group, or raise 404."""
    entry = GroupScheduleEntry.objects.filter(pk=entry_id, group_id=group.pk).first()
    if entry is None:
        raise Http404("No such schedule entry.")
    return entry


# --- Lists -------------------------------------------------------------------------------------


def group_list_for_user(*, user: User) -> list[GroupMembership]:
    """Return the user's memberships with their groups and member counts."""
    return list(
        GroupMembership.objects.filter(user=user)
        .select_related("group__track")
        .annotate(member_count=Count("group__memberships"))
        .order_by("group__name")
    )


def group_list_listed(*, user: AnyUser) -> list[StudyGroup]:
    """Return listed groups the user is not in yet, largest first."""
    groups = StudyGroup.objects.filter(privacy=StudyGroup.Privacy.LISTED).select_related("track")
    if user.is_authenticated:
        groups = groups.exclude(memberships__user=user)
    return list(
        groups.annotate(member_count=Count("memberships")).order_by("-member_count", "name")[:100]
    )


def group_members(*, group: StudyGroup) -> list[GroupMembership]:
    return list(group.memberships.select_related("user").order_by("joined_at", "id"))


def group_schedule(*, group: StudyGroup) -> list[GroupScheduleEntry]:
    return list(group.schedule.select_related("module"))


def track_module_choices(*, track: Track) -> list[Module]:
    return list(track.modules.live().order_by("trackmodule__order"))


# --- This week and the board -------------------------------------------------------------------


def current_week(today: date | None = None) -> tuple[date, date]:
    """Return the Monday and Sunday of the current week."""
    today = today or timezone.localdate()
    monday = week_start(today)
    return monday, monday + timedelta(days=6)


def this_week_entries(
    *, group_ids: list[int], today: date | None = None
) -> list[GroupScheduleEntry]:
    """Return schedule entries whose planned span overlaps the current week, for many groups."""
    monday, sunday = current_week(today)
    return list(
        GroupScheduleEntry.objects.filter(
            group_id__in=group_ids, week_start__lte=sunday, due_date__gte=monday
        ).select_related("module")
    )


def _exercises_for_modules(module_ids: list[int]) -> dict[int, list[Exercise]]:
    """Return each module's published live exercises in reading order, in one query."""
    per_module: dict[int, list[Exercise]] = defaultdict(list)
    if not module_ids:
        return per_module
    for exercise in (
        Exercise.objects.reachable()
        .filter(published=True, lesson__module_id__in=module_ids)
        .select_related("lesson")
        .only(
            "id",
            "slug",
            "title",
            "translations",
            "order",
            "lesson__id",
            "lesson__order",
            "lesson__module_id",
        )
        .order_by("lesson__order", "order", "slug")
    ):
        per_module[exercise.lesson.module_id].append(exercise)
    return per_module


@dataclass
class WeekPlan:
    group: StudyGroup
    membership: GroupMembership
    entries: list[GroupScheduleEntry]
    exercises: list[Exercise]
    solved: int

    @property
    def due(self) -> date | None:
        return max((e.due_date for e in self.entries), default=None)


def this_week_for_user(
    *, user: User, today: date | None = None, solved: set[int] | None = None
) -> list[WeekPlan]:
    """Return, for each of the user's groups, this week's modules and how many they have solved.

    At most three queries however many groups and members there are (two without groups);
    solved: the learner's solved exercise ids, when the caller has them already.
    """
    memberships = list(
        GroupMembership.objects.filter(user=user).select_related("group").order_by("group__name")
    )
    if not memberships:
        return []
    entries = this_week_entries(group_ids=[m.group_id for m in memberships], today=today)
    outline = catalogue()
    per_module = {
        module_id: [outline.exercises[pk] for pk in outline.module_exercise_ids(module_id)]
        for module_id in {e.module_id for e in entries}
    }
    if solved is None:
        solved = solved_exercise_ids(user)
    plans = []
    for membership in memberships:
        mine = [e for e in entries if e.group_id == membership.group_id]
        exercises = [x for e in mine for x in per_module.get(e.module_id, [])]
        plans.append(
            WeekPlan(
                group=membership.group,
                membership=membership,
                entries=mine,
                exercises=exercises,
                solved=sum(1 for x in exercises if x.id in solved),
            )
        )
    return plans


@dataclass
class BoardRow:
    membership: GroupMembership
    statuses: list[str]
    is_viewer: bool

    @property
    def solved(self) -> int:
        return self.statuses.count(SOLVED)


@dataclass
class ExerciseTotals:
    exercise: Exercise
    solved: int
    attempted: int
    not_started: int

    def percent(self, count: int) -> float:
        total = self.solved + self.attempted + self.not_started
        return round(100 * count / total, 1) if total else 0.0

    @property
    def solved_percent(self) -> float:
        return self.percent(self.solved)

    @property
    def attempted_percent(self) -> float:
        return self.percent(self.attempted)


@dataclass
class GroupSkill:
    module: Module
    exercises: int
    mastery: float  # mean over members, 0..100
    viewer: float | None  # the viewer's own mastery, for comparison
    members_started: int


@dataclass
class Board:
    group: StudyGroup
    entries: list[GroupScheduleEntry]
    exercises: list[Exercise]
    rows: list[BoardRow]
    hidden_count: int  # members whose details are hidden from this viewer
    member_count: int
    totals: list[ExerciseTotals]
    skills: list[GroupSkill] = field(default_factory=list)

    @property
    def counted_count(self) -> int:
        """Return how many members the totals, the mastery and the chart are computed over."""
        return self.member_count - self.hidden_count

    @property
    def skill_chart(self) -> HBarChart:
        return hbar_chart(
            [(s.module.skill or s.module.title, s.mastery, s.viewer) for s in self.skills]
        )


def _status(progress: tuple[int, bool, float] | None) -> str:
    if progress is None or progress[0] == 0:
        return NOT_STARTED
    return SOLVED if progress[1] else ATTEMPTED


def _hidden_from(viewer: AnyUser, membership: GroupMembership) -> bool:
    return membership.hide_details and membership.user_id != viewer.pk


def _counted(viewer: AnyUser, memberships: list[GroupMembership]) -> list[GroupMembership]:
    """Return the memberships whose progress this viewer's totals may be computed from.

    The guarantee (the board's privacy help text says it to members): whatever anyone sees of a
    group — board, totals, mastery, chart, progress table, CSV — is computed only from members who
    show their details and from the viewer's own, so a hidden member's progress cannot be worked
    out from it however many accounts join, hide or leave and however many snapshots are
    compared; only how many members hide shows. A threshold ("counted once three hide") does not
    hold: two fresh accounts that hide make three, and the totals minus the rows shown minus the
    two accounts' own figures are the real member's; and two boards, before and after a hidden
    member joins or leaves, differ by exactly that member's figures however many others hide.
    """
    return [m for m in memberships if not _hidden_from(viewer, m)]


def group_board(*, group: StudyGroup, viewer: User, today: date | None = None) -> Board:
    """Return members × this week's exercises and per-skill mastery for the group.

    Members hidden from the viewer get no row and count in no total, mastery or chart
    (see _counted); only their number shows.

    A constant number of queries whatever the group's size: memberships, this week's entries,
    the track's modules, their exercises, and the members' progress on them.
    """
    memberships = list(
        GroupMembership.objects.filter(group=group)
        .select_related("user")
        .order_by("joined_at", "id")
    )
    entries = this_week_entries(group_ids=[group.pk], today=today)
    modules = track_module_choices(track=group.track)
    per_module = _exercises_for_modules([m.pk for m in modules])
    track_exercise_ids = [x.id for xs in per_module.values() for x in xs]
    # "solved" is computed in the database: converting thousands of timestamps costs more
    # than the query itself.
    progress: dict[tuple[int, int], tuple[int, bool, float]] = {
        (user_id, exercise_id): (attempts, bool(solved), best)
        for user_id, exercise_id, attempts, solved, best in ExerciseProgress.objects.filter(
            user__group_memberships__group=group, exercise_id__in=track_exercise_ids
        )
        .annotate(solved=ExpressionWrapper(Q(solved_at__isnull=False), BooleanField()))
        .values_list("user_id", "exercise_id", "attempts", "solved", "best_score")
    }
    week_exercises = [x for e in entries for x in per_module.get(e.module_id, [])]
    seen: set[int] = set()
    week_exercises = [x for x in week_exercises if not (x.id in seen or seen.add(x.id))]

    counted = _counted(viewer, memberships)
    statuses = {
        membership.pk: [_status(progress.get((membership.user_id, x.id))) for x in week_exercises]
        for membership in memberships
    }
    totals = {
        x.id: ExerciseTotals(exercise=x, solved=0, attempted=0, not_started=0)
        for x in week_exercises
    }
    for membership in counted:
        for exercise, status in zip(week_exercises, statuses[membership.pk], strict=True):
            total = totals[exercise.id]
            if status == SOLVED:
                total.solved += 1
            elif status == ATTEMPTED:
                total.attempted += 1
            else:
                total.not_started += 1
    rows = [
        BoardRow(
            membership=membership,
            statuses=statuses[membership.pk],
            is_viewer=membership.user_id == viewer.pk,
        )
        for membership in memberships
        if not _hidden_from(viewer, membership)
    ]

    skills = []
    for module in modules:
        ids = [x.id for x in per_module.get(module.pk, [])]
        if not ids or not counted:
            continue
        per_member = []
        started = 0
        for membership in counted:
            credit = 0.0
            any_started = False
            for exercise_id in ids:
                p = progress.get((membership.user_id, exercise_id))
                if p is not None and p[0] > 0:
                    any_started = True
                    credit += exercise_credit(solved=p[1], best_score=p[2])
            started += any_started
            per_member.append((membership.user_id, 100 * credit / len(ids)))
        skills.append(
            GroupSkill(
                module=module,
                exercises=len(ids),
                mastery=sum(v for _, v in per_member) / len(per_member),
                viewer=next((v for uid, v in per_member if uid == viewer.pk), None),
                members_started=started,
            )
        )
    return Board(
        group=group,
        entries=entries,
        exercises=week_exercises,
        rows=rows,
        hidden_count=len(memberships) - len(rows),
        member_count=len(memberships),
        totals=list(totals.values()),
        skills=skills,
    )


# --- Progress tables (facilitators and instructors) --------------------------------------------


@dataclass
class ProgressTableRow:
    label: str
    per_module: list[tuple[int, int]]  # (solved, exercises) per module
    attempts: int
    last_active: datetime | None

    @property
    def solved(self) -> int:
        return sum(s for s, _ in self.per_module)

    @property
    def exercises(self) -> int:
        return sum(n for _, n in self.per_module)


@dataclass
class ProgressTable:
    modules: list[Module]
    rows: list[ProgressTableRow]
    total_row: ProgressTableRow
    hidden_count: int = 0

    def csv_rows(self) -> list[list[str]]:
        """Return the table as CSV cells: a header, one row per learner, then the totals."""
        header = ["learner", *[m.title for m in self.modules], "solved", "exercises", "attempts"]
        header.append("last active")
        out = [header]
        for row in [*self.rows, self.total_row]:
            out.append(
                [
                    row.label,
                    *[f"{s}/{n}" for s, n in row.per_module],
                    str(row.solved),
                    str(row.exercises),
                    str(row.attempts),
                    row.last_active.isoformat() if row.last_active else "",
                ]
            )
        return out


def _progress_table(
    *, track: Track, learners: list[tuple[User, bool]], learner_filter: Q
) -> ProgressTable:
    """Build the per-learner, per-module solved table.

    Hidden learners are left out of every row and the totals (see _counted); the totals'
    label says how many.
    """
    modules = track_module_choices(track=track)
    per_module = _exercises_for_modules([m.pk for m in modules])
    module_of = {x.id: m.pk for m in modules for x in per_module.get(m.pk, [])}
    stats: dict[int, dict[str, object]] = defaultdict(
        lambda: {"solved": defaultdict(int), "attempts": 0, "last": None}
    )
    for row in (
        ExerciseProgress.objects.filter(learner_filter, exercise_id__in=list(module_of))
        .values("user_id", "exercise__lesson__module_id")
        .annotate(
            solved=Count("id", filter=Q(solved_at__isnull=False)),
            attempts=Sum("attempts"),
            last=Max("last_attempt_at"),
        )
    ):
        entry = stats[row["user_id"]]
        entry["solved"][row["exercise__lesson__module_id"]] += row["solved"]  # type: ignore[index]
        entry["attempts"] += row["attempts"] or 0  # type: ignore[operator]
        last = row["last"]
        if last and (entry["last"] is None or last > entry["last"]):  # type: ignore[operator]
            entry["last"] = last

    sizes = [len(per_module.get(m.pk, [])) for m in modules]

    def fold(label: str, users: list[User]) -> ProgressTableRow:
        per = [
            (sum(stats[u.pk]["solved"][m.pk] for u in users), n * len(users))  # type: ignore[index]
            for m, n in zip(modules, sizes, strict=True)
        ]
        lasts = [stats[u.pk]["last"] for u in users if stats[u.pk]["last"]]
        return ProgressTableRow(
            label=label,
            per_module=per,
            attempts=sum(stats[u.pk]["attempts"] for u in users),  # type: ignore[misc]
            last_active=max(lasts) if lasts else None,  # type: ignore[type-var]
        )

    visible = [u for u, hidden in learners if not hidden]
    hidden = [u for u, hidden in learners if hidden]
    if hidden:
        shown = ngettext("%(count)d shown learner", "%(count)d shown learners", len(visible)) % {
            "count": len(visible)
        }
        hidden_label = ngettext(
            "%(count)d member with hidden details",
            "%(count)d members with hidden details",
            len(hidden),
        ) % {"count": len(hidden)}
        label = _("%(shown)s (%(hidden)s not counted)") % {"shown": shown, "hidden": hidden_label}
    else:
        label = ngettext("all %(count)d learner", "all %(count)d learners", len(visible)) % {
            "count": len(visible)
        }
    return ProgressTable(
        modules=modules,
        rows=[fold(u.username, [u]) for u in visible],
        total_row=fold(label, visible),
        hidden_count=len(hidden),
    )


def group_progress_table(*, group: StudyGroup, viewer: AnyUser) -> ProgressTable:
    """Return the group's progress per member and module, as far as the viewer may see it.

    Members who hide their details get no row of their own (the viewer always sees their own).
    """
    members = group_members(group=group)
    return _progress_table(
        track=group.track,
        learners=[(m.user, _hidden_from(viewer, m)) for m in members],
        learner_filter=Q(user__group_memberships__group=group),
    )


def track_progress_table(*, track: Track) -> ProgressTable:
    """Return every enrolled learner's progress per module of the track (for instructors)."""
    learners = list(User.objects.filter(enrollments__track=track).order_by("username").distinct())
    return _progress_table(
        track=track,
        learners=[(u, False) for u in learners],
        learner_filter=Q(user__enrollments__track=track),
    )


# --- Threads and notifications -----------------------------------------------------------------


def thread_list(*, group: StudyGroup, topic: str = "") -> list[GroupThread]:
    """Return the group's threads, latest activity first, with post counts.

    topic narrows the list to one lesson ("lesson:<id>") or one exercise ("exercise:<id>").
    """
    threads = group.threads.select_related("author", "lesson", "exercise")
    kind, _, pk = topic.partition(":")
    if kind in ("lesson", "exercise") and pk.isdigit():
        threads = threads.filter(**{f"{kind}_id": int(pk)})
    return list(threads.annotate(post_count=Count("posts")))


def thread_posts(*, thread: GroupThread, viewer: User) -> list[GroupPost]:
    """Return the thread's posts with helpful counts and whether the viewer marked each."""
    return list(
        thread.posts.select_related("author").annotate(
            helpful_count=Count("helpful_marks"),
            marked_by_viewer=Exists(HelpfulMark.objects.filter(post=OuterRef("pk"), user=viewer)),
        )
    )


@dataclass
class ReplyNotice:
    thread: GroupThread
    new_replies: int


def new_replies_for_user(*, user: User, limit: int = 10) -> list[ReplyNotice]:
    """Return followed threads with replies from others since the user last read them (one query)."""
    subscriptions = (
        ThreadSubscription.objects.filter(user=user, thread__group__memberships__user=user)
        .annotate(
            new=Count(
                "thread__posts",
                filter=Q(thread__posts__created_at__gt=F("last_read_at"))
                & ~Q(thread__posts__author=user),
            )
        )
        .filter(new__gt=0)
        .select_related("thread__group")
        .order_by("-thread__last_post_at")[:limit]
    )
    return [ReplyNotice(thread=s.thread, new_replies=s.new) for s in subscriptions]


def lesson_and_exercise_choices(*, track: Track) -> list[Module]:
    """Return the track's modules with live lessons and their published exercises (for a thread form)."""
    lessons = (
        Lesson.objects.live()
        .order_by("order")
        .prefetch_related(
            Prefetch(
                "exercises",
                queryset=Exercise.objects.live().filter(published=True).order_by("order", "slug"),
                to_attr="visible_exercises",
            )
        )
    )
    return list(
        track.modules.live()
        .order_by("trackmodule__order")
        .prefetch_related(Prefetch("lessons", queryset=lessons, to_attr="live_lessons"))
    )


@dataclass
class GroupQuestions:
    """One of the learner's groups that studies an exercise, with its threads about it."""

    group: StudyGroup
    threads: list[GroupThread]
    exercise_id: int

    @property
    def ask_url(self) -> str:
        """The group's question form with this exercise chosen as the topic."""
        url = reverse("group_thread_list", args=[self.group.pk])
        return f"{url}?topic=exercise:{self.exercise_id}#ask-heading"


def exercise_group_questions(*, user: User, exercise: Exercise) -> list[GroupQuestions]:
    """Return the learner's groups whose track has this exercise, each with its threads about it.

    Two queries however many groups; none for a learner in no group.
    """
    if not user.is_authenticated:
        return []
    outline = catalogue()
    module_id = (
        outline.lessons[exercise.lesson_id].module_id
        if exercise.lesson_id in outline.lessons
        else None
    )
    groups = [
        m.group
        for m in GroupMembership.objects.filter(user=user)
        .select_related("group")
        .order_by("group__name")
        if module_id in outline.track_modules.get(m.group.track_id, [])
    ]
    if not groups:
        return []
    threads: dict[int, list[GroupThread]] = defaultdict(list)
    for thread in GroupThread.objects.filter(group__in=groups, exercise=exercise).order_by(
        "-last_post_at"
    ):
        threads[thread.group_id].append(thread)
    return [GroupQuestions(group=g, threads=threads[g.pk], exercise_id=exercise.pk) for g in groups]
