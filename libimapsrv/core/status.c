#include "imapsrv.h"

const char *imapsrv_strerror(imapsrv_status status)
{
    switch (status) {
    case IMAPSRV_OK: return "success";
    case IMAPSRV_PENDING: return "operation pending";
    case IMAPSRV_E_NOMEM: return "out of memory";
    case IMAPSRV_E_INVALID: return "invalid argument";
    case IMAPSRV_E_NOKEY: return "unknown configuration key";
    case IMAPSRV_E_CONFIG: return "configuration refused";
    case IMAPSRV_E_BIND: return "a listener could not be bound";
    case IMAPSRV_E_SYSTEM: return "system call failed";
    case IMAPSRV_E_TLS: return "TLS setup failed";
    case IMAPSRV_E_STATE: return "not allowed in the current state";
    case IMAPSRV_E_UNSUPPORTED: return "not supported";
    case IMAPSRV_E_AUTHFAILED: return "authentication failed";
    case IMAPSRV_E_AUTHZFAILED: return "authorization failed";
    case IMAPSRV_E_EXPIRED: return "credentials expired";
    case IMAPSRV_E_UNAVAILABLE: return "temporarily unavailable";
    case IMAPSRV_E_NONEXISTENT: return "no such mailbox or message";
    case IMAPSRV_E_ALREADYEXISTS: return "already exists";
    case IMAPSRV_E_CANNOT: return "operation cannot be performed";
    case IMAPSRV_E_INUSE: return "in use";
    case IMAPSRV_E_OVERQUOTA: return "over quota";
    case IMAPSRV_E_LIMIT: return "limit exceeded";
    case IMAPSRV_E_NOPERM: return "permission denied";
    case IMAPSRV_E_EXPUNGED: return "message expunged";
    case IMAPSRV_E_CONTACTADMIN: return "contact the administrator";
    case IMAPSRV_E_SERVERBUG: return "internal server error";
    }
    return "unknown status";
}
