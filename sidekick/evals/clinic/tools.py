"""The clinic's tools and the per-trial environment that runs them against its own database copy."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sidekick.evals.clinic.data import (
    BOOKING_WINDOW_DAYS, LATE_CANCEL_FEE, LATE_CANCEL_HOURS, NOW, SPECIALTIES, WEEKDAYS, initial_database)
from sidekick.evals.clinic.schema import ClinicTool, a_date, a_time, string
from sidekick.evals.domain import DomainEnvironment, ToolError

CANCEL_REASONS = ["no longer needed", "scheduling conflict", "feeling better"]
Db = dict[str, Any]


def _find(db: Db, table: str, key: str) -> dict[str, Any]:
    if key not in db[table]:
        prefix = next(iter(db[table])).split("_")[0]
        raise ToolError(f"no {table[:-1]} with id {key!r} ({table[:-1]} ids look like {prefix}_...)")
    return db[table][key]


def _start(day: str, time: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{time}")


def _weekday(day: str) -> str:
    return WEEKDAYS[date.fromisoformat(day).weekday()]


def _bookable_day(day: str) -> None:
    last = NOW.date() + timedelta(days=BOOKING_WINDOW_DAYS)
    if date.fromisoformat(day) < NOW.date():
        raise ToolError(f"{day} is in the past; today is {NOW:%Y-%m-%d}")
    if date.fromisoformat(day) > last:
        raise ToolError(f"{day} is more than {BOOKING_WINDOW_DAYS} days ahead; the last bookable day is {last}")
    if _weekday(day) in ("saturday", "sunday"):
        raise ToolError(f"the clinic is closed at weekends; {day} is a {_weekday(day)}")


def _free_times(db: Db, doctor: dict[str, Any], day: str, ignore: str | None = None) -> list[str]:
    taken = {a["time"] for a in db["appointments"].values() if a["doctor_id"] == doctor["id"]
             and a["date"] == day and a["status"] == "scheduled" and a["id"] != ignore}
    return [t for t in doctor["weekly_slots"].get(_weekday(day), []) if t not in taken and _start(day, t) > NOW]


def _check_slot(db: Db, doctor: dict[str, Any], patient: dict[str, Any], day: str, time: str,
                ignore: str | None = None) -> None:
    _bookable_day(day)
    weekday, slots = _weekday(day), doctor["weekly_slots"]
    if weekday not in slots:
        raise ToolError(f"{doctor['name']} does not work on {weekday}s; working days: {', '.join(slots)}")
    if time not in slots[weekday]:
        raise ToolError(f"{doctor['name']} has no {time} slot on {weekday}s; slots: {', '.join(slots[weekday])}")
    if _start(day, time) <= NOW:
        raise ToolError(f"{day} {time} has already passed; it is now {NOW:%Y-%m-%d %H:%M}")
    free = _free_times(db, doctor, day, ignore)
    if time not in free:
        raise ToolError(f"{doctor['name']} is already booked on {day} at {time}; free that day: "
                        f"{', '.join(free) or 'none'}")
    for aid in patient["appointments"]:
        other = db["appointments"][aid]
        if aid != ignore and other["status"] == "scheduled" and (other["date"], other["time"]) == (day, time):
            raise ToolError(f"{patient['name']} already has appointment {aid} on {day} at {time}")


def _changeable(db: Db, appointment_id: str, action: str) -> dict[str, Any]:
    appointment = _find(db, "appointments", appointment_id)
    if appointment["status"] != "scheduled":
        raise ToolError(f"appointment {appointment_id} is {appointment['status']}; only scheduled appointments "
                        f"can be {action}")
    if _start(appointment["date"], appointment["time"]) <= NOW:
        raise ToolError(f"appointment {appointment_id} started at {appointment['date']} {appointment['time']}; "
                        f"only appointments that have not started can be {action}")
    return appointment


def find_patient_by_email(db: Db, a: dict[str, Any]) -> Any:
    for patient in db["patients"].values():
        if patient["email"] and patient["email"] == a["email"].strip().lower():
            return patient
    raise ToolError(f"no patient with email {a['email']!r}; try find_patient_by_name_and_birthdate")


def find_patient_by_name_and_birthdate(db: Db, a: dict[str, Any]) -> Any:
    name = " ".join(a["name"].lower().split())
    for patient in db["patients"].values():
        if patient["name"].lower() == name and patient["birthdate"] == a["birthdate"]:
            return patient
    raise ToolError(f"no patient named {a['name']!r} born on {a['birthdate']}")


def list_doctor_slots(db: Db, a: dict[str, Any]) -> Any:
    if not a.get("doctor_id") and not a.get("specialty"):
        raise ToolError("give a doctor_id or a specialty")
    _bookable_day(a["date"])
    doctors = [_find(db, "doctors", a["doctor_id"])] if a.get("doctor_id") else list(db["doctors"].values())
    doctors = [d for d in doctors if a.get("specialty") in (None, d["specialty"])]
    if not doctors:
        raise ToolError(f"{a['doctor_id']} is not a {a['specialty']} doctor")
    slots = sorted(({"time": t, "doctor_id": d["id"], "doctor": d["name"], "specialty": d["specialty"],
                     "fee": d["fee"]} for d in doctors for t in _free_times(db, d, a["date"])),
                   key=lambda s: (s["time"], s["doctor_id"]))
    if not slots:
        days = "; ".join(f"{d['name']} works on {', '.join(d['weekly_slots'])}" for d in doctors)
        return f"no free slots on {a['date']} ({_weekday(a['date'])}); {days}"
    return {"date": a["date"], "weekday": _weekday(a["date"]), "free_slots": slots}


def book_appointment(db: Db, a: dict[str, Any]) -> Any:
    patient = _find(db, "patients", a["patient_id"])
    doctor = _find(db, "doctors", a["doctor_id"])
    _check_slot(db, doctor, patient, a["date"], a["time"])
    appointment_id = f"ap_{db['next_appointment_number']}"
    db["next_appointment_number"] += 1
    db["appointments"][appointment_id] = {
        "id": appointment_id, "patient_id": patient["id"], "doctor_id": doctor["id"], "doctor": doctor["name"],
        "specialty": doctor["specialty"], "date": a["date"], "time": a["time"], "status": "scheduled",
        "reason": a.get("reason"), "invoice_id": None}
    patient["appointments"].append(appointment_id)
    return {**db["appointments"][appointment_id], "fee": doctor["fee"]}


def cancel_appointment(db: Db, a: dict[str, Any]) -> Any:
    appointment = _changeable(db, a["appointment_id"], "cancelled")
    appointment.update(status="cancelled", cancel_reason=a["reason"])
    if _start(appointment["date"], appointment["time"]) - NOW >= timedelta(hours=LATE_CANCEL_HOURS):
        return {**appointment, "late_cancellation_fee": None}
    invoice_id = f"inv_{db['next_invoice_number']}"
    db["next_invoice_number"] += 1
    db["invoices"][invoice_id] = {
        "id": invoice_id, "patient_id": appointment["patient_id"], "appointment_id": appointment["id"],
        "description": f"late cancellation of {appointment['id']}", "amount": LATE_CANCEL_FEE, "status": "unpaid"}
    db["patients"][appointment["patient_id"]]["invoices"].append(invoice_id)
    appointment["invoice_id"] = invoice_id
    return {**appointment, "late_cancellation_fee": db["invoices"][invoice_id]}


def reschedule_appointment(db: Db, a: dict[str, Any]) -> Any:
    appointment = _changeable(db, a["appointment_id"], "rescheduled")
    if (appointment["date"], appointment["time"]) == (a["date"], a["time"]):
        raise ToolError(f"appointment {appointment['id']} is already on {a['date']} at {a['time']}")
    doctor, patient = db["doctors"][appointment["doctor_id"]], db["patients"][appointment["patient_id"]]
    _check_slot(db, doctor, patient, a["date"], a["time"], ignore=appointment["id"])
    appointment.update(date=a["date"], time=a["time"])
    return appointment


def pay_invoice_from_balance(db: Db, a: dict[str, Any]) -> Any:
    invoice = _find(db, "invoices", a["invoice_id"])
    if invoice["status"] == "paid":
        raise ToolError(f"invoice {invoice['id']} is already paid")
    patient = db["patients"][invoice["patient_id"]]
    if invoice["amount"] > patient["balance"]:
        raise ToolError(f"the amount {invoice['amount']:.2f} exceeds the account balance {patient['balance']:.2f} "
                        f"of {patient['name']}; nothing was paid")
    patient["balance"] = round(patient["balance"] - invoice["amount"], 2)
    invoice["status"] = "paid"
    return {**invoice, "balance_after": patient["balance"]}


PATIENT_ID, APPOINTMENT_ID = string(description="a patient id, pt_..."), string(description="an appointment id, ap_...")
DOCTOR_ID, INVOICE_ID = string(description="a doctor id, dr_..."), string(description="an invoice id, inv_...")
TOOLS = {t.name: t for t in [
    ClinicTool("find_patient_by_email", "Find a patient by email. Returns the patient with account balance, "
               "appointment ids, invoice ids and dependants.", {"email": string()}, ("email",), find_patient_by_email),
    ClinicTool("find_patient_by_name_and_birthdate", "Find a patient by full name and date of birth.",
               {"name": string(), "birthdate": a_date("date of birth")}, ("name", "birthdate"),
               find_patient_by_name_and_birthdate),
    ClinicTool("get_patient", "Get a patient by id.", {"patient_id": PATIENT_ID}, ("patient_id",),
               lambda db, a: _find(db, "patients", a["patient_id"])),
    ClinicTool("list_doctor_slots", "Free appointment times on one date, for one doctor or for every doctor of "
               "a specialty (give doctor_id or specialty). Shows each doctor's fee.",
               {"date": a_date("the day"), "doctor_id": DOCTOR_ID,
                "specialty": string(enum=list(SPECIALTIES))}, ("date",), list_doctor_slots),
    ClinicTool("get_appointment", "Get an appointment by id: doctor, date, time, status, invoice.",
               {"appointment_id": APPOINTMENT_ID}, ("appointment_id",),
               lambda db, a: _find(db, "appointments", a["appointment_id"])),
    ClinicTool("book_appointment", "Book a free slot with a doctor for a patient.",
               {"patient_id": PATIENT_ID, "doctor_id": DOCTOR_ID, "date": a_date("the day"),
                "time": a_time("a slot's start time"), "reason": string(description="optional note for the doctor")},
               ("patient_id", "doctor_id", "date", "time"), book_appointment),
    ClinicTool("cancel_appointment", "Cancel a scheduled appointment that has not started. Less than "
               f"{LATE_CANCEL_HOURS} hours ahead, a late-cancellation invoice is added.",
               {"appointment_id": APPOINTMENT_ID, "reason": string(enum=CANCEL_REASONS)},
               ("appointment_id", "reason"), cancel_appointment),
    ClinicTool("reschedule_appointment", "Move a scheduled appointment to another free slot of the same doctor.",
               {"appointment_id": APPOINTMENT_ID, "date": a_date("the new day"), "time": a_time("the new time")},
               ("appointment_id", "date", "time"), reschedule_appointment),
    ClinicTool("get_invoice", "Get an invoice by id: amount, status (paid or unpaid), what it is for.",
               {"invoice_id": INVOICE_ID}, ("invoice_id",),
               lambda db, a: _find(db, "invoices", a["invoice_id"])),
    ClinicTool("pay_invoice_from_balance", "Pay an unpaid invoice in full from the patient's account balance.",
               {"invoice_id": INVOICE_ID}, ("invoice_id",), pay_invoice_from_balance),
]}


class ClinicEnvironment(DomainEnvironment):
    """One trial's clinic: a private database copy, plus the transient faults its task injects."""

    tools = TOOLS
    fault_text = "Error: the {name} service timed out (504). Nothing was changed; please try again."

    def initial_database(self) -> dict[str, Any]:
        return initial_database()

    def unknown_tool(self, name: str) -> str:
        return f"Error: unknown tool {name!r}; the tools are {', '.join(TOOLS)}"
