// The date inputs give local days ("2026-12-07"); the API wants moments. A period of days runs
// from the first day's start to the end of the last (the API's `to` is "before").

export function dayStart(day: string): Date {
  return new Date(`${day}T00:00:00`);
}

export function dayEnd(day: string): Date {
  const end = dayStart(day);
  end.setDate(end.getDate() + 1);
  return end;
}
