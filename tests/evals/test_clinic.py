"""The clinic suite: its tasks, its tools' refusals and checks, and the scripted models through the real loop."""

from __future__ import annotations

import json
from collections import Counter

from sidekick.frameworks.upfront import UPFRONT_NOTE
from sidekick.evals.clinic import ClinicSuite
from sidekick.evals.clinic.tools import ClinicEnvironment
from sidekick.evals.runner import summarise
from sidekick.evals.scripted import expected_failures
from sidekick.evals.suite import load_suite, state_hash
from tests.evals.suite_checks import (
    assert_gold_states_differ_exactly_where_a_write_succeeds,
    assert_task_shapes_match_their_categories,
    CORRECTION_OPENINGS,
    corrections_sent,
    evaluate,
    failed,
)

CLINIC = ClinicSuite()
TASKS = CLINIC.tasks()
WRITES = {"book_appointment", "cancel_appointment", "reschedule_appointment", "pay_invoice_from_balance"}
RESULT_ONLY_MARKERS = ("guardian_id", "free_slots", "consultation with", "timed out", "Error:")


def test_the_clinic_is_a_registered_suite_with_about_20_tasks_in_every_category() -> None:
    assert isinstance(load_suite("clinic"), ClinicSuite)
    assert 20 <= len(TASKS) <= 25
    assert len({t.id for t in TASKS}) == len({t.instruction for t in TASKS}) == len(TASKS)
    counts = Counter(t.category for t in TASKS)
    assert set(counts) == set(CLINIC.categories) and min(counts.values()) >= 3
    assert sum(1 for t in TASKS if "calculate" in t.builtins) >= 2


def test_task_shapes_match_their_categories() -> None:
    assert_task_shapes_match_their_categories(CLINIC)


def test_gold_states_differ_from_the_start_exactly_for_tasks_that_change_something() -> None:
    assert_gold_states_differ_exactly_where_a_write_succeeds(CLINIC, WRITES)


def test_every_tool_has_a_strict_json_schema() -> None:
    specs = CLINIC.tool_specs(TASKS[0])
    assert len(specs) == 10
    for spec in specs:
        schema = spec["inputSchema"]
        assert spec["description"] and schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["required"]) <= set(schema["properties"])


def test_refusals_and_bad_arguments_explain_themselves_and_change_nothing() -> None:
    env = ClinicEnvironment()
    before = state_hash(env.db)
    booking = {"patient_id": "pt_hana", "doctor_id": "dr_okoye", "date": "2025-03-12", "time": "09:00"}
    cases = [
        ("find_patient_by_email", {"email": "nobody@example.com"}, "try find_patient_by_name_and_birthdate"),
        ("find_patient_by_name_and_birthdate", {"name": "Hana Sato", "birthdate": "1988-12-04"}, "no patient named"),
        ("find_patient_by_name_and_birthdate", {"name": "Hana Sato", "birthdate": "1988-02-30"},
         "birthdate must be a date as YYYY-MM-DD"),
        ("get_patient", {"patient_id": "hana"}, "no patient with id 'hana' (patient ids look like pt_...)"),
        ("get_patient", {}, "missing patient_id"),
        ("get_invoice", {"invoice_id": "inv_3001", "verbose": True}, "unexpected verbose"),
        ("list_doctor_slots", {"date": "2025-03-12"}, "give a doctor_id or a specialty"),
        ("list_doctor_slots", {"date": "2025-03-07", "specialty": "dermatology"}, "is in the past"),
        ("list_doctor_slots", {"date": "2025-06-02", "specialty": "dermatology"}, "more than 60 days ahead"),
        ("list_doctor_slots", {"date": "2025-03-12", "specialty": "cardiology"}, "specialty must be one of"),
        ("list_doctor_slots", {"date": "2025-03-12", "doctor_id": "dr_okoye", "specialty": "dermatology"},
         "not a dermatology doctor"),
        ("book_appointment", {**booking, "time": "9am"}, "time must be a 24-hour time as HH:MM"),
        ("book_appointment", {**booking, "date": 20250312}, "date must be of type string"),
        ("book_appointment", {**booking, "date": "2025-03-11"}, "does not work on tuesdays"),
        ("book_appointment", {**booking, "time": "09:15"}, "has no 09:15 slot on wednesdays"),
        ("book_appointment", {**booking, "date": "2025-03-10"}, "has already passed"),
        ("book_appointment", {**booking, "date": "2025-03-15"}, "closed at weekends"),
        ("book_appointment", {**booking, "time": "10:00"}, "free that day: 09:00, 09:30, 10:30, 11:00"),
        ("book_appointment", {**booking, "patient_id": "pt_diego"}, "Diego Alvarez already has appointment ap_2004"),
        ("book_appointment", {"patient_id": "pt_hana", "doctor": "dr_okoye"}, "missing doctor_id, date, time"),
        ("cancel_appointment", {"appointment_id": "ap_2002", "reason": "bored"}, "reason must be one of"),
        ("cancel_appointment", {"appointment_id": "ap_2003", "reason": "no longer needed"}, "only scheduled"),
        ("cancel_appointment", {"appointment_id": "ap_2013", "reason": "no longer needed"}, "is cancelled"),
        ("reschedule_appointment", {"appointment_id": "ap_2002", "date": "2025-03-18", "time": "09:00"}, "already on"),
        ("reschedule_appointment", {"appointment_id": "ap_2002", "date": "2025-03-11", "time": "10:00"},
         "already booked"),
        ("pay_invoice_from_balance", {"invoice_id": "inv_3001"}, "already paid"),
        ("pay_invoice_from_balance", {"invoice_id": "inv_3002"}, "exceeds the account balance 40.00"),
        ("teleport", {}, "unknown tool"),
    ]
    for name, arguments, expected in cases:
        result = env.call(name, arguments)
        assert result.is_error and expected in result.text, (name, result.text)
    assert state_hash(env.db) == before


def test_free_slots_skip_booked_and_past_times_but_not_cancelled_ones() -> None:
    env = ClinicEnvironment()

    def times(**arguments: str) -> list[str]:
        return [s["time"] for s in json.loads(env.call("list_doctor_slots", arguments).text)["free_slots"]]

    assert times(date="2025-03-10", doctor_id="dr_okoye") == ["09:30", "10:00", "11:00"]  # 09:00 is now
    assert times(date="2025-03-17", doctor_id="dr_okoye")[0] == "09:00"  # freed by the cancelled ap_2023
    general = json.loads(env.call("list_doctor_slots", {"date": "2025-03-13", "specialty": "general practice"}).text)
    assert [s["time"] for s in general["free_slots"]] == ["14:30", "15:00", "15:30"]
    off_day = env.call("list_doctor_slots", {"date": "2025-03-11", "doctor_id": "dr_okoye"})
    assert not off_day.is_error and "works on monday, wednesday, friday" in off_day.text


def test_booking_numbers_appointments_and_rescheduling_frees_the_old_slot() -> None:
    env = ClinicEnvironment()
    booked = json.loads(env.call("book_appointment", {"patient_id": "pt_noor", "doctor_id": "dr_ferreira",
                                                      "date": "2025-03-17", "time": "14:00", "reason": None}).text)
    assert booked["id"] == "ap_2100" and booked["fee"] == 70.0 and booked["reason"] is None
    assert env.db["patients"]["pt_noor"]["appointments"][-1] == "ap_2100"
    moved = env.call("reschedule_appointment", {"appointment_id": "ap_2004", "date": "2025-03-14", "time": "09:00"})
    assert not moved.is_error and json.loads(moved.text)["time"] == "09:00"
    again = env.call("book_appointment", {"patient_id": "pt_hana", "doctor_id": "dr_brennan", "date": "2025-03-12",
                                          "time": "09:00"})
    assert not again.is_error and json.loads(again.text)["id"] == "ap_2101"


def test_a_late_cancellation_bills_a_fee_and_an_early_one_does_not() -> None:
    env = ClinicEnvironment()
    late = json.loads(env.call("cancel_appointment", {"appointment_id": "ap_2008", "reason": "feeling better"}).text)
    assert late["status"] == "cancelled" and late["late_cancellation_fee"]["amount"] == 25.0
    assert env.db["invoices"]["inv_3100"]["status"] == "unpaid"
    assert env.db["patients"]["pt_samuel"]["invoices"][-1] == "inv_3100"
    early = json.loads(env.call("cancel_appointment", {"appointment_id": "ap_2002", "reason": "no longer needed"}).text)
    assert early["late_cancellation_fee"] is None and len(env.db["invoices"]) == 11


def test_paying_takes_the_balance_and_faults_pass_after_their_count() -> None:
    env = ClinicEnvironment({"pay_invoice_from_balance": 1})
    results = [env.call("pay_invoice_from_balance", {"invoice_id": "inv_3005"}) for _ in range(3)]
    assert [r.is_error for r in results] == [True, False, True]
    assert "timed out" in results[0].text and json.loads(results[1].text)["balance_after"] == 15.0
    assert "already paid" in results[2].text and ClinicEnvironment().db["patients"]["pt_marek"]["balance"] == 75.0


async def test_the_oracle_scores_100_percent_through_the_loop_and_the_upfront_baseline_far_less() -> None:
    result, server = await evaluate(CLINIC, "oracle", baseline="upfront", concurrency=4)
    summary = summarise(CLINIC, result["tasks"], result["runs"], 1)
    assert summary["sidekick"]["passRate"] == 1.0, summary["sidekick"]["failedTasks"]
    runs = {r["task"]: r for r in result["runs"]["sidekick"]}
    assert all(r["stopReason"] == "done" and r["error"] is None for r in runs.values())
    assert runs["multi-pay-unpaid"]["toolCalls"] == 6 and runs["recovery-booking-outage"]["toolCalls"] == 2
    # an oracle without results passes only what needs neither a second step nor a fact from a result
    should_pass = {t.id for t in TASKS if not t.actions or (len(t.actions) == 1 and not t.outputs)}
    assert {t.id for t in TASKS} - failed(result, "upfront") == should_pass
    assert summary["upfront"]["passRate"] < 0.25
    baseline_bodies = [b for b in server.requests if UPFRONT_NOTE in b["messages"][0]["content"]]
    assert not any(marker in json.dumps(b["messages"]) for b in baseline_bodies for marker in RESULT_ONLY_MARKERS)
    first_turns = [b for b in server.requests if UPFRONT_NOTE not in b["messages"][0]["content"]
                   and not any(m["role"] == "tool" for m in b["messages"])]
    offered = {tuple(sorted(t["function"]["name"] for t in body["tools"])) for body in first_turns}
    tools = tuple(sorted(s["name"] for s in CLINIC.tool_specs(TASKS[0])))
    assert offered == {tools, tuple(sorted((*tools, "calculate")))}


async def test_the_faulty_model_has_nothing_to_get_wrong_here() -> None:
    assert expected_failures(CLINIC, "faulty") == set()  # it over-orders in place_order, which the clinic lacks
    result, _ = await evaluate(CLINIC, "faulty", concurrency=4)
    assert failed(result, "sidekick") == set()


async def test_the_textual_oracle_scores_100_percent_through_the_loop() -> None:
    result, server = await evaluate(CLINIC, "textual", concurrency=4)
    summary = summarise(CLINIC, result["tasks"], result["runs"], 1)["sidekick"]
    assert summary["passRate"] == 1.0, summary["failedTasks"]
    assert corrections_sent(server) == set(CORRECTION_OPENINGS)

