// The OCSF 1.3.0 objects and record classes this service emits (subsets of the objects of the same
// names, https://schema.ocsf.io/1.3.0/), and the options a record is built with.

export const OCSF_VERSION = '1.3.0';
export const AUDIT_LOG_NAME = 'secrets.audit.v1';

export interface OcsfOptions {
  productName: string;
  productVersion: string;
  vendorName: string;
  /** The denial burst detector flagged this event (only meaningful for SecretAccessDenied). */
  burst: boolean;
}

// ---- the OCSF objects used here (subsets of the 1.3.0 objects of the same names) ----
export interface OcsfProduct {
  name: string;
  version: string;
  vendor_name: string;
}
export interface OcsfMetadata {
  version: typeof OCSF_VERSION;
  product: OcsfProduct;
  profiles: string[];
  uid: string;
  correlation_uid: string;
  event_code: string;
  log_name: string;
  original_time: string;
  logged_time?: number;
}
export interface OcsfUser {
  uid: string;
  name?: string;
  type_id: 0 | 1 | 2 | 3 | 99;
  type: string;
}
export interface OcsfSession {
  uid: string;
}
export interface OcsfPolicy {
  uid?: string;
  name: string;
}
export interface OcsfAuthorization {
  decision: 'Allowed' | 'Denied';
  policy?: OcsfPolicy;
}
export interface OcsfActor {
  user: OcsfUser;
  session?: OcsfSession;
  authorizations?: OcsfAuthorization[];
}
export interface OcsfNetworkEndpoint {
  svc_name: string;
}
export interface OcsfService {
  name: string;
}
export interface OcsfApi {
  operation: string;
  service: OcsfService;
}
export interface OcsfResourceDetails {
  type: 'secret' | 'project' | 'group' | 'unknown' | 'access-request' | 'break-glass' | 'openbao-acl-policy' | 'openbao-jwt-role' | 'openbao-jwt-config' | 'openbao-object' | 'user' | 'group-claim';
  uid: string;
  name: string;
  version?: string;
  labels?: string[];
  data?: Record<string, unknown>;
}
/** Fields OCSF has no attribute for, under the one catch-all OCSF offers. */
export interface OcsfUnmapped {
  ci?: {
    pipeline_id?: string;
    job_id?: string;
    ref?: string;
    ref_protected?: boolean;
    environment?: string;
    triggered_by?: string;
  };
  purpose?: string;
  /** ExposureReportGenerated: which report was asked for (never its content) */
  exposure_report?: { report_id: string; from: string; to: string; report_sha256: string; covered_places: number; not_covered: number };
  denied_action?: string;
  denial_burst?: boolean;
  /** OpenBaoDriftDetected / OpenBaoDriftRepaired: what was changed behind the service's back, and what the reconciler put back */
  openbao_drift?: { request_id: string | null; path: string | null; operation?: string; policies?: string[]; written?: string[]; removed?: string[] };
  /** the read bypassed the API: OpenBao decided it, seen in OpenBao's audit device */
  openbao?: { request_id: string; policy: string | null };
  /** SecretAccessDenialsSuppressed: what the folded denials were (count, start_time and end_time are on the record). */
  suppressed?: { rate_limited: number; projects: number; window_seconds: number };
  grant?: { grant_id: string; expires_at?: string | null; access_request_id?: string; break_glass?: true };
  /** Access requests (four-eyes) and break-glass: what was asked or done, why, and who decided. */
  access_request?: { request_id: string; requester: string; role?: string; duration_seconds?: number; reason?: string; expires_at?: string; grant_id?: string; comment?: string | null };
  break_glass?: { grant_id: string; user: string; reason?: string; duration_seconds?: number; expires_at?: string; eligible_via?: string; outcome?: string; comment?: string };
  /** SecretRotationOverdue: the interval the version outlived, when it was written and when it was due. */
  rotation?: { interval_days: number; last_rotated_at: string; due_at: string };
  /** SecretValueNotDelivered: the SecretAccessed record this one corrects (its metadata.uid). */
  not_delivered?: { access_event_uid: string };
}

/** What every record class shares (not exported from the package: only the builders use it). */
export interface OcsfBase {
  metadata: OcsfMetadata;
  time: number;
  time_dt: string;
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  severity_id: 1 | 2 | 3 | 4 | 5;
  severity: 'Informational' | 'Low' | 'Medium' | 'High' | 'Critical';
  status_id: 1 | 2;
  status: 'Success' | 'Failure';
  status_detail?: string;
  message: string;
  actor: OcsfActor;
  src_endpoint: OcsfNetworkEndpoint;
  unmapped?: OcsfUnmapped;
}

/** API Activity (class_uid 6003): every secret event and every access decision. */
export interface OcsfApiActivity extends OcsfBase {
  class_uid: 6003;
  class_name: 'API Activity';
  category_uid: 6;
  category_name: 'Application Activity';
  activity_id: 1 | 2 | 3 | 4 | 99;
  api: OcsfApi;
  resources: OcsfResourceDetails[];
  /** Folded repeats (SecretAccessDenialsSuppressed): how many, from when to when. */
  count?: number;
  start_time?: number;
  start_time_dt?: string;
  end_time?: number;
  end_time_dt?: string;
}

/** User Access Management (class_uid 3005): role grants and revocations. */
export interface OcsfUserAccessManagement extends OcsfBase {
  class_uid: 3005;
  class_name: 'User Access Management';
  category_uid: 3;
  category_name: 'Identity & Access Management';
  activity_id: 1 | 2;
  user: OcsfUser;
  privileges: string[];
  resource: OcsfResourceDetails;
}

/** Group Management (class_uid 3006): a role granted to, or revoked from, a group. */
export interface OcsfGroupManagement extends OcsfBase {
  class_uid: 3006;
  class_name: 'Group Management';
  category_uid: 3;
  category_name: 'Identity & Access Management';
  activity_id: 1 | 2;
  group: { uid: string; name: string };
  privileges: string[];
  resource: OcsfResourceDetails;
}

export type OcsfRecord = OcsfApiActivity | OcsfUserAccessManagement | OcsfGroupManagement;
