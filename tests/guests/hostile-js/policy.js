// Test guest: loads and describes itself normally, then allocates without bound in
// `decide`. The host must stop it at the memory cap (or fuel/deadline) and use the
// fail-safe.
import { Policy } from 'sluice-policy';

const policy = new Policy({ point: 'retrain', name: 'hostile-js', version: '0.1.0', summary: 'Allocates without bound.' });

policy.decide(() => {
  const hoard = [];
  for (;;) hoard.push(new Float64Array(1 << 20));
});

export default policy;
