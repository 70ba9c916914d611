import { run } from '../../run';

// `npm run start:auditor`: this app alone, as its container runs it.
run('auditor');
