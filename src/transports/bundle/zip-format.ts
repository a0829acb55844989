/** Record signatures and field limits of the ZIP format (APPNOTE 6.3), shared by writer and checks. */
export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
export const END_SIGNATURE = 0x06054b50;
export const ZIP64_END_SIGNATURE = 0x06064b50;
export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
export const ZIP64_EXTRA_ID = 0x0001;
/** A 32-bit field at this value means "see the zip64 record". */
export const MAX32 = 0xffffffff;
/** A 16-bit count at this value means "see the zip64 record". */
export const MAX16 = 0xffff;
