/**
 * A labelled select for one filter: "all" (the empty value) and the values seen, sorted. The value
 * chosen stays listed when nothing shown carries it any more, so the choice never silently resets.
 */
export function FilterSelect({
  label,
  values,
  value,
  onChange,
  testId,
}: {
  label: string
  values: Iterable<string>
  value: string
  onChange: (value: string) => void
  testId: string
}) {
  const options = [...new Set([...values, value].filter(Boolean))].sort()
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)} data-testid={testId}>
        <option value="">all</option>
        {options.map((option) => (
          <option key={option}>{option}</option>
        ))}
      </select>
    </label>
  )
}
