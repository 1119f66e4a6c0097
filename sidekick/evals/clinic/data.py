"""The clinic's starting database, its clock and its policy. Invented for this suite: every name is made up."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

NOW = datetime(2025, 3, 10, 9, 0)  # the clinic's clock stands still, so every trial sees the same "future"
BOOKING_WINDOW_DAYS = 60
LATE_CANCEL_HOURS = 24
LATE_CANCEL_FEE = 25.0
SPECIALTIES = ("general practice", "dermatology", "pediatrics", "physiotherapy")

POLICY = f"""You are the front-desk assistant of Harbourside Family Clinic. You act for the patient through \
the clinic's tools. It is now {NOW:%A} {NOW:%Y-%m-%d}, {NOW:%H:%M} (clinic time).

Policy:
- Identify the patient before reading or changing their records: by email, or by full name and date of \
birth. A patient id (pt_...) given in the request identifies the patient too.
- A parent or guardian may manage the appointments and invoices of a child listed among their dependants.
- Appointments are booked in a doctor's weekly slots, from now up to {BOOKING_WINDOW_DAYS} days ahead; the \
clinic is closed at weekends. list_doctor_slots shows the free times of one doctor or of a specialty \
({', '.join(SPECIALTIES)}).
- Only scheduled appointments that have not started yet can be cancelled or rescheduled. Rescheduling keeps \
the same doctor.
- Cancelling less than {LATE_CANCEL_HOURS} hours before the start costs a late-cancellation fee of \
{LATE_CANCEL_FEE:.2f}, billed as a new invoice (the cancel tool adds it).
- Invoices are paid from the patient's prepaid account balance, and only when the balance covers the whole \
amount.
- Do not give medical advice: suggest an appointment with a doctor instead.
- The patient's request is their confirmation: do not ask them to confirm, carry it out.
- When the request only asks for information, change nothing.
- Finish with a short answer to the patient that states the facts they asked for."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_DOCTORS = [
    ("dr_okoye", "Dr. Amara Okoye", "general practice", 60.0,
     {day: ["09:00", "09:30", "10:00", "10:30", "11:00"] for day in ("monday", "wednesday", "friday")}),
    ("dr_wrobel", "Dr. Tomasz Wrobel", "general practice", 60.0,
     {day: ["14:00", "14:30", "15:00", "15:30"] for day in ("tuesday", "thursday")}),
    ("dr_lindqvist", "Dr. Henrik Lindqvist", "dermatology", 95.0,
     {"tuesday": ["09:00", "10:00", "11:00"], "thursday": ["13:00", "14:00"]}),
    ("dr_ferreira", "Dr. Lucia Ferreira", "pediatrics", 70.0,
     {day: ["14:00", "14:30", "15:00"] for day in ("monday", "thursday")}),
    ("dr_brennan", "Dr. Siobhan Brennan", "physiotherapy", 55.0,
     {day: ["08:00", "09:00", "10:00", "16:00"] for day in ("wednesday", "friday")}),
]

# (id, name, email, birthdate, balance, guardian)
_PATIENTS = [
    ("pt_hana", "Hana Sato", "hana.sato@example.com", "1988-04-12", 150.0, None),
    ("pt_diego", "Diego Alvarez", "diego.alvarez@example.com", "1975-11-03", 40.0, None),
    ("pt_ingrid", "Ingrid Bakke", "ingrid.bakke@example.com", "1992-07-21", 200.0, None),
    ("pt_samuel", "Samuel Osei", "samuel.osei@example.com", "1960-01-30", 25.0, None),
    ("pt_leila", "Leila Nasser", "leila.nasser@example.com", "1983-09-14", 120.0, None),
    ("pt_noor", "Noor Nasser", None, "2019-05-02", 0.0, "pt_leila"),
    ("pt_marek", "Marek Novak", "marek.novak@example.com", "1990-02-17", 75.0, None),
    ("pt_grace", "Grace Whitfield", "grace.whitfield@example.com", "1971-12-08", 300.0, None),
    ("pt_arjun", "Arjun Mehta", "arjun.mehta@example.com", "1999-06-25", 80.0, None),
    ("pt_daniel1", "Daniel Kim", "daniel.kim@example.com", "1985-03-02", 60.0, None),
    ("pt_daniel2", "Daniel Kim", "dkim.2001@example.com", "2001-10-19", 170.0, None),
]

# (id, patient, doctor, date, time, status, invoice: (id, paid) for a completed visit)
_APPOINTMENTS = [
    ("ap_2001", "pt_hana", "dr_okoye", "2025-02-24", "09:30", "completed", ("inv_3001", True)),
    ("ap_2002", "pt_hana", "dr_lindqvist", "2025-03-18", "09:00", "scheduled", None),
    ("ap_2003", "pt_diego", "dr_okoye", "2025-03-03", "10:00", "completed", ("inv_3002", False)),
    ("ap_2004", "pt_diego", "dr_brennan", "2025-03-12", "09:00", "scheduled", None),
    ("ap_2005", "pt_ingrid", "dr_lindqvist", "2025-03-04", "09:00", "completed", ("inv_3003", False)),
    ("ap_2006", "pt_ingrid", "dr_brennan", "2025-03-14", "16:00", "scheduled", None),
    ("ap_2007", "pt_ingrid", "dr_okoye", "2025-03-19", "09:00", "scheduled", None),
    ("ap_2008", "pt_samuel", "dr_okoye", "2025-03-10", "10:30", "scheduled", None),
    ("ap_2009", "pt_noor", "dr_ferreira", "2025-03-13", "14:30", "scheduled", None),
    ("ap_2010", "pt_noor", "dr_ferreira", "2025-02-13", "14:00", "completed", ("inv_3004", True)),
    ("ap_2011", "pt_marek", "dr_wrobel", "2025-03-06", "15:00", "completed", ("inv_3005", False)),
    ("ap_2012", "pt_grace", "dr_lindqvist", "2025-03-20", "13:00", "scheduled", None),
    ("ap_2013", "pt_grace", "dr_brennan", "2025-03-07", "08:00", "cancelled", None),
    ("ap_2014", "pt_grace", "dr_okoye", "2025-03-05", "09:00", "completed", ("inv_3006", False)),
    ("ap_2015", "pt_arjun", "dr_wrobel", "2025-03-13", "14:00", "scheduled", None),
    ("ap_2016", "pt_daniel1", "dr_okoye", "2025-03-12", "10:00", "scheduled", None),
    ("ap_2017", "pt_daniel2", "dr_brennan", "2025-03-14", "08:00", "scheduled", None),
    ("ap_2018", "pt_daniel2", "dr_lindqvist", "2025-02-25", "10:00", "completed", ("inv_3007", False)),
    ("ap_2019", "pt_marek", "dr_lindqvist", "2025-03-11", "10:00", "scheduled", None),
    ("ap_2020", "pt_grace", "dr_lindqvist", "2025-01-28", "11:00", "completed", ("inv_3008", True)),
    ("ap_2021", "pt_grace", "dr_brennan", "2025-02-19", "10:00", "completed", ("inv_3009", False)),
    ("ap_2022", "pt_daniel2", "dr_brennan", "2025-02-26", "16:00", "completed", ("inv_3010", False)),
    ("ap_2023", "pt_hana", "dr_okoye", "2025-03-17", "09:00", "cancelled", None),
]


def _build() -> dict[str, Any]:
    doctors = {did: {"id": did, "name": name, "specialty": specialty, "fee": fee, "weekly_slots": slots}
               for did, name, specialty, fee, slots in _DOCTORS}
    patients = {pid: {"id": pid, "name": name, "email": email, "birthdate": born, "balance": balance,
                      "guardian_id": guardian, "dependants": [], "appointments": [], "invoices": []}
                for pid, name, email, born, balance, guardian in _PATIENTS}
    for patient in patients.values():
        if patient["guardian_id"]:
            patients[patient["guardian_id"]]["dependants"].append(patient["id"])
    appointments, invoices = {}, {}
    for aid, pid, did, day, time, status, invoice in _APPOINTMENTS:
        doctor = doctors[did]
        appointments[aid] = {"id": aid, "patient_id": pid, "doctor_id": did, "doctor": doctor["name"],
                             "specialty": doctor["specialty"], "date": day, "time": time, "status": status,
                             "reason": None, "invoice_id": invoice and invoice[0]}
        patients[pid]["appointments"].append(aid)
        if invoice:
            iid, paid = invoice
            invoices[iid] = {"id": iid, "patient_id": pid, "appointment_id": aid,
                             "description": f"consultation with {doctor['name']} on {day}", "amount": doctor["fee"],
                             "status": "paid" if paid else "unpaid"}
            patients[pid]["invoices"].append(iid)
    return {"doctors": doctors, "patients": patients, "appointments": appointments, "invoices": invoices,
            "next_appointment_number": 2100, "next_invoice_number": 3100}


_INITIAL = _build()


def initial_database() -> dict[str, Any]:
    """A fresh deep copy of the starting database; every trial gets its own."""
    return copy.deepcopy(_INITIAL)
