/** Short sample documents shared by the demo and the cookbook examples. */
export const SAMPLE_TEXTS: readonly string[] = [
  'The shipment left the warehouse on Monday and arrived two days early, much to the relief of the customer.',
  'Our quarterly revenue grew by twelve percent, driven mostly by subscriptions in the European market.',
  'The new firmware update fixes the battery drain issue but introduces a small delay when waking from sleep.',
  'Volunteers planted more than four hundred trees along the river bank over the weekend.',
  'The committee postponed its decision on the budget until the auditors finish their report.',
  'Customers complained that the checkout page froze whenever they applied a discount code.',
  'A late frost damaged most of the apple blossoms, so this year’s harvest is expected to be small.',
  'The library will extend its opening hours during the exam period to help students prepare.',
  'Engineers traced the outage to a misconfigured load balancer that dropped half of all connections.',
  'The museum’s new exhibition brings together paintings that have not been shown in public for a century.',
  'Several passengers were stranded overnight after the last train was cancelled without notice.',
  'The startup raised its first round of funding and plans to hire ten engineers by the summer.',
];

/** `count` documents cycled from {@link SAMPLE_TEXTS}, each tagged with its index so results are traceable. */
export function sampleDocuments(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `#${i} ${SAMPLE_TEXTS[i % SAMPLE_TEXTS.length]}`);
}
