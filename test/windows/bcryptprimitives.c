/*
 * bcryptprimitives.dll with the one function Go's Windows runtime needs:
 * ProcessPrng (since Go 1.24 the runtime refuses to start without it).
 * Debian's wine 8.0 has no bcryptprimitives.dll, so `make test-windows`
 * builds this with mingw-w64 into the wine prefix's system32, where Go
 * looks for it. Only for running tests under wine; never shipped.
 * RtlGenRandom (advapi32's SystemFunction036) is wine's system RNG.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
