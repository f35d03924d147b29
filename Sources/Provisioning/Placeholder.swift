// Least-privilege provisioning lives here.
